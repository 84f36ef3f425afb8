// The ssh executor's provider (GitLab Runner's executors/ssh): jobs run on the [runners.ssh] host
// as its user, in a builds dir shared by every job of that user (`builds` under the login
// directory unless builds_dir says otherwise; GitLab writes `$PWD/builds`), so project dirs carry
// the short token and concurrency ids. The login directory is read from the host before the job
// is placed (the executor's configure: `pwd` of a session); /root for root and /home/<user>
// otherwise only when the host cannot be asked (prepare then fails with the reason). A relative
// or `~/` builds_dir / cache_dir goes under it. One connector per worker: one connection per host.
import { join, posix } from "node:path";
import { SshConnector, type SshTarget } from "../../ssh/connector.ts";
import type { ExecutorProvider, LayoutInput, RunnerEntrySettings } from "../provider.ts";
import { WORKER_TRANSFER_FEATURES } from "../workspace-transfer.ts";
import { SshExecutor } from "./ssh-executor.ts";

export interface SshProviderOptions {
  /** Test knobs: the stop sequence of a canceled stage (GitLab: 10 min, then 10 s). */
  gracefulKillTimeoutMs?: number;
  forceKillTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  connectTimeoutMs?: number;
}

/** [runners.ssh] as a connection target, with GitLab's defaults (localhost, root, 22). */
export function sshTarget(runner: RunnerEntrySettings | undefined, o: SshProviderOptions = {}): SshTarget {
  const s = runner?.ssh;
  const port = Number(s?.port || "22");
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(
      `runner "${runner?.name ?? ""}": [runners.ssh] port: expected a port number like "22", got ${JSON.stringify(s?.port)}`,
    );
  return {
    host: s?.host || "localhost",
    port,
    user: s?.user || "root",
    password: s?.password,
    identityFile: s?.identity_file || undefined,
    strictHostKeyChecking: !(s?.disable_strict_host_key_checking ?? false),
    knownHostsFile: s?.known_hosts_file || undefined,
    keepaliveIntervalMs: o.keepaliveIntervalMs,
    connectTimeoutMs: o.connectTimeoutMs,
  };
}

/** The remote login directory runmesh assumes for `user` until the host says (SshExecutor.configure). */
export function remoteHome(user: string): string {
  return user === "root" ? "/root" : `/home/${user}`;
}

/** A builds_dir / cache_dir on the ssh host: `~/x` and relative paths under the login directory. */
export function remoteDir(dir: string, home: string): string {
  if (dir === "~") return home;
  if (dir.startsWith("~/")) return posix.join(home, dir.slice(2));
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell variable, not a template
  const pwd = dir.replaceAll("${PWD}", home).replaceAll("$PWD", home);
  return posix.resolve(home, pwd);
}

export function sshProvider(o: SshProviderOptions = {}): ExecutorProvider {
  const connector = new SshConnector();
  return {
    name: "ssh",
    defaultShell: "bash",
    shells: ["bash", "sh"],
    // GitLab's ssh provider: Variables and Shared; cache and artifacts: the worker runs those
    // stages over the connection (ssh-workspace.ts).
    features: {
      variables: true,
      shared: true,
      ...WORKER_TRANSFER_FEATURES,
    },
    layout: (input: LayoutInput) => {
      const target = sshTarget(input.runner, o);
      const home = remoteHome(target.user);
      return {
        buildsDir: remoteDir(input.buildsDir || "builds", home),
        cacheDir: remoteDir(input.cacheDir || "cache", home),
        sharedBuildsDir: true,
        // Local cache archives stay on the worker: the cache stages run there (ssh-workspace.ts).
        localCacheDir: input.workerCacheDir,
        // Slots (CI_CONCURRENT_ID) are counted on the worker's host, per ssh target.
        locksDir: join(input.workerBuildsDir, "ssh-slots", `${target.user}@${target.host}_${target.port}`),
      };
    },
    create: (ctx) =>
      new SshExecutor({
        connector,
        target: sshTarget(ctx.runner, o),
        runnerName: ctx.runner?.name ?? "",
        buildsDir: ctx.runner?.builds_dir || "builds",
        cacheDir: ctx.runner?.cache_dir || "cache",
        gracefulKillTimeoutMs: o.gracefulKillTimeoutMs,
        forceKillTimeoutMs: o.forceKillTimeoutMs,
      }),
  };
}
