// `runmesh register --non-interactive --url U --token glrt-… --executor E [--name N] …`, as
// commands/register.go, in its three flows:
// - a runner authentication token (`glrt-`, via --token or --registration-token): the runner
//   already exists in GitLab, so register checks it with `POST runners/verify` (GitLab answers
//   with its id and the token's expiry); GitLab keeps tags, locked, paused & co. for itself, so
//   those options are refused (only warned about when the token came as --registration-token);
// - a registration token (`-r`, legacy, deprecated since GitLab 15.6): `POST runners` with those
//   options creates the runner and answers with its own token, which is what config.toml gets;
// - a legacy runner token in --token: verified, then written as it is.
// runmesh never prompts: what is missing is named. If the config cannot be written after GitLab
// accepted, the runner (or this manager) is unregistered again unless --leave-runner.
import { mkdir, readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { appendRunner, writeFileAtomic } from "../../../libs/config/config-file-edit.ts";
import { EXECUTORS } from "../../../libs/config/runner-schema.ts";
import { runnerInfoFor } from "../../../libs/executors/runner-clients.ts";
import type { RegisterParameters } from "../../../libs/gitlab/client.ts";
import type { OptionValues } from "../cli/option-table.ts";
import { SERVER_SIDE_REGISTER_OPTIONS } from "../cli/verbs.ts";
import type { CliContext, ExitCode } from "./cli-context.ts";
import { isCreatedRunnerToken, readConfigRunners } from "./config-runners.ts";

/** What GitLab Runner writes into a new config.toml (configfile's defaults). */
const NEW_CONFIG =
  "concurrent = 1\ncheck_interval = 0\nshutdown_timeout = 0\n\n[session_server]\n  session_timeout = 1800\n";

export type RegisterFlow =
  /** The token goes to `runners/verify` and into config.toml. */
  | { kind: "verify"; token: string }
  /** `POST runners` with the registration token; GitLab's answer holds the runner's token. */
  | { kind: "register"; registrationToken: string; parameters: RegisterParameters };

export type RegisterPlan =
  | { ok: true; url: string; flow: RegisterFlow; entry: Record<string, unknown>; warnings: string[] }
  | { ok: false; message: string };

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
const list = (v: unknown) => (Array.isArray(v) && v.length > 0 ? (v as string[]) : undefined);

function positiveInt(name: string, v: unknown): number | undefined | Error {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) return new Error(`--${name}: expected a whole number, got "${s}"`);
  return Number(s);
}

/** The new entry from the options: pure, so every option's mapping is table-tested. */
export function planRegistration(o: OptionValues, defaults: { hostname: string }): RegisterPlan {
  const url = str(o.url);
  const runnerToken = str(o.token);
  const registrationToken = str(o["registration-token"]);
  const token = runnerToken ?? registrationToken;
  if (!url) return { ok: false, message: "The url needs to be entered (--url or $CI_SERVER_URL)" };
  if (!token)
    return {
      ok: false,
      message:
        "The token needs to be entered (--token glrt-… or $CI_SERVER_TOKEN; legacy: --registration-token)",
    };
  const warnings: string[] = [];
  // GitLab Runner's ensureServerConfigArgsEmpty: --locked (true) is the default, so only false counts.
  const serverSide = SERVER_SIDE_REGISTER_OPTIONS.filter((k) =>
    k === "locked" ? o.locked === false : o[k] !== undefined && o[k] !== false,
  );
  const named = serverSide.map((k) => `--${k}`).join(", ");
  let flow: RegisterFlow;
  if (isCreatedRunnerToken(token)) {
    if (serverSide.length > 0 && !(registrationToken === token && !runnerToken))
      return {
        ok: false,
        message:
          `Runner configuration other than name and executor configuration is reserved (${named}) ` +
          "and cannot be specified when registering with a runner authentication token. This configuration is " +
          "specified on the GitLab server. Please try again without specifying any of those arguments.",
      };
    if (serverSide.length > 0)
      warnings.push(
        `You have specified an authentication token in the legacy parameter --registration-token: ignoring ${named}`,
      );
    flow = { kind: "verify", token };
  } else if (runnerToken) {
    // register.go: "Token specified trying to verify runner... use '-r' to register".
    if (serverSide.length > 0)
      return {
        ok: false,
        message: `${named}: these apply only when registering with a registration token (-r), not to an existing runner's --token`,
      };
    warnings.push(
      "Token specified trying to verify runner... If you want to register use the '-r' instead of '-t'.",
    );
    flow = { kind: "verify", token: runnerToken };
  } else {
    const accessLevel = str(o["access-level"]);
    if (accessLevel !== undefined && !["not_protected", "ref_protected"].includes(accessLevel))
      return {
        ok: false,
        message: `Given access-level is not valid: "${accessLevel}" (not_protected or ref_protected)`,
      };
    const maximumTimeout = positiveInt("maximum-timeout", o["maximum-timeout"]);
    if (maximumTimeout instanceof Error) return { ok: false, message: maximumTimeout.message };
    const tagList = str(o["tag-list"]);
    warnings.push(
      "Support for registration tokens and runner parameters in the 'register' command has been deprecated in GitLab Runner 15.6: create the runner in GitLab and register with its authentication token (glrt-…)",
    );
    flow = {
      kind: "register",
      registrationToken: token,
      parameters: {
        description: str(o.description) ?? defaults.hostname,
        maintenanceNote: str(o["maintenance-note"]),
        tagList,
        // register.go: no tags means untagged jobs are run.
        runUntagged: o["run-untagged"] === true || !tagList,
        locked: o.locked !== false,
        accessLevel,
        maximumTimeout,
        paused: o.paused === true,
      },
    };
  }
  const executor = str(o.executor);
  if (!executor)
    return { ok: false, message: `The executor needs to be entered (--executor: ${EXECUTORS.join(", ")})` };
  if (!(EXECUTORS as readonly string[]).includes(executor))
    return {
      ok: false,
      message: `Invalid executor specified: "${executor}" (expected one of ${EXECUTORS.join(", ")})`,
    };

  const entry: Record<string, unknown> = { name: str(o.description) ?? defaults.hostname, url };
  const numbers: [string, string][] = [
    ["limit", "limit"],
    ["request-concurrency", "request_concurrency"],
    ["output-limit", "output_limit"],
  ];
  const plain: [string, string][] = [
    ["tls-ca-file", "tls-ca-file"],
    ["tls-cert-file", "tls-cert-file"],
    ["tls-key-file", "tls-key-file"],
  ];
  for (const [flag, key] of plain) if (str(o[flag])) entry[key] = str(o[flag]);
  entry.executor = executor;
  for (const [flag, key] of [
    ["shell", "shell"],
    ["builds-dir", "builds_dir"],
    ["cache-dir", "cache_dir"],
    ["clone-url", "clone_url"],
  ] as const)
    if (str(o[flag])) entry[key] = str(o[flag]);
  for (const [flag, key] of numbers) {
    const n = positiveInt(flag, o[flag]);
    if (n instanceof Error) return { ok: false, message: n.message };
    if (n !== undefined) entry[key] = n;
  }
  if (list(o.env)) entry.environment = list(o.env);

  const dockerFlags = ["docker-image", "docker-privileged", "docker-volumes", "docker-pull-policy"];
  const sshFlags = ["ssh-host", "ssh-port", "ssh-user", "ssh-password", "ssh-identity-file"];
  const usesDocker =
    executor === "docker" || executor === "docker-autoscaler" || executor === "docker+machine";
  const usesSsh = executor === "ssh";
  const stray = [
    ...(usesDocker ? [] : dockerFlags.filter((f) => o[f] !== undefined)),
    ...(usesSsh ? [] : sshFlags.filter((f) => o[f] !== undefined)),
  ];
  if (stray.length > 0)
    return {
      ok: false,
      message: `${stray.map((f) => `--${f}`).join(", ")} ${stray.length > 1 ? "do" : "does"} not apply to the ${executor} executor`,
    };
  if (usesDocker) {
    const image = str(o["docker-image"]);
    if (!image)
      return { ok: false, message: "The docker-image needs to be entered (--docker-image, e.g. ruby:3.3)" };
    const volumes = list(o["docker-volumes"]) ?? [];
    // register.go askDocker: a /cache volume unless one is there.
    if (!volumes.some((v) => v.split(":").at(-1) === "/cache")) volumes.push("/cache");
    const docker: Record<string, unknown> = { image, privileged: o["docker-privileged"] === true, volumes };
    if (list(o["docker-pull-policy"])) docker.pull_policy = list(o["docker-pull-policy"]);
    entry.docker = docker;
  }
  if (usesSsh) {
    const host = str(o["ssh-host"]);
    const user = str(o["ssh-user"]);
    if (!host) return { ok: false, message: "The ssh-host needs to be entered (--ssh-host)" };
    if (!user) return { ok: false, message: "The ssh-user needs to be entered (--ssh-user)" };
    const ssh: Record<string, unknown> = { host, user };
    if (str(o["ssh-port"])) ssh.port = str(o["ssh-port"]);
    if (str(o["ssh-password"])) ssh.password = str(o["ssh-password"]);
    if (str(o["ssh-identity-file"])) ssh.identity_file = str(o["ssh-identity-file"]);
    entry.ssh = ssh;
  }
  return { ok: true, url, flow, entry, warnings };
}

export async function registerCommand(
  o: { configPath: string; options: OptionValues },
  ctx: CliContext,
): Promise<ExitCode> {
  const plan = planRegistration(o.options, { hostname: hostname() });
  if (!plan.ok) {
    ctx.logger.fatal(plan.message);
    return 1;
  }
  for (const w of plan.warnings) ctx.logger.warn(w);
  const { text, runners } = await readConfigRunners(o.configPath);
  const { flow, entry } = plan;
  if (flow.kind === "verify" && runners.some((r) => r.token === flow.token))
    ctx.logger.warn("A runner with this system ID and token has already been registered.");
  const systemId = await ctx.systemId(o.configPath);
  const client = ctx.client({
    name: String(entry.name),
    url: plan.url,
    tls: {
      caFile: entry["tls-ca-file"] as string | undefined,
      certFile: entry["tls-cert-file"] as string | undefined,
      keyFile: entry["tls-key-file"] as string | undefined,
    },
  });
  const info = runnerInfoFor({ executor: entry.executor, shell: entry.shell });
  let granted: { id: number; token: string; tokenExpiresAt?: string };
  if (flow.kind === "verify") {
    const verified = await client.verifyRunner({ token: flow.token, systemId, info });
    if (verified.result !== "valid" || !verified.id) {
      ctx.logger.fatal(
        { status: verified.status },
        verified.result === "invalid"
          ? "Failed to verify the runner: GitLab does not know this token (403)"
          : "Failed to verify the runner. You may be having network problems.",
      );
      return 1;
    }
    granted = { id: verified.id, token: flow.token, tokenExpiresAt: verified.tokenExpiresAt };
  } else {
    const registered = await client.registerRunner({
      registrationToken: flow.registrationToken,
      parameters: flow.parameters,
      info,
    });
    if (registered.result !== "ok") {
      ctx.logger.fatal(
        {
          status: registered.status,
          reason: registered.result === "failed" ? registered.message : undefined,
        },
        registered.result === "forbidden"
          ? "Failed to register the runner: forbidden (check registration token)"
          : "Failed to register the runner.",
      );
      return 1;
    }
    granted = registered;
  }
  const now = ctx.now();
  const written: Record<string, unknown> = {
    name: entry.name,
    url: entry.url,
    id: granted.id,
    token: granted.token,
    token_obtained_at: new Date(Math.floor(now.getTime() / 1000) * 1000),
    ...(granted.tokenExpiresAt ? { token_expires_at: new Date(granted.tokenExpiresAt) } : {}),
    ...Object.fromEntries(Object.entries(entry).filter(([k]) => !["name", "url"].includes(k))),
  };
  try {
    const base = text === "" ? await readOrNew(o.configPath) : text;
    const edit = appendRunner(base, written);
    await writeFileAtomic(o.configPath, edit.text);
    if (!edit.preserved)
      ctx.logger.warn("config.toml was re-encoded: its comments and formatting could not be kept");
  } catch (e) {
    ctx.logger.fatal({ err: (e as Error).message }, `cannot save ${o.configPath}`);
    if (o.options["leave-runner"] !== true) {
      // As register.go's deferred unregisterRunner: GitLab should not keep what never runs.
      await client.unregister({
        token: granted.token,
        systemId: isCreatedRunnerToken(granted.token) ? systemId : undefined,
      });
    }
    return 1;
  }
  ctx.logger.info(
    "Runner registered successfully. Feel free to start it, but if it's running already the config should be automatically reloaded!",
  );
  ctx.logger.info(`Configuration (with the authentication token) was saved in "${o.configPath}"`);
  return 0;
}

async function readOrNew(path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  return readFile(path, "utf8").catch(() => NEW_CONFIG);
}
