// The docker executor: each stage's script runs in a fresh container, fed on stdin, as GitLab
// Runner's executors/docker does. User stages run in the job's image; predefined stages (get
// sources, caches, artifacts, cleanup) in the helper image, so any job image works (busybox,
// distroless with a shell). Both share one builds volume. The job's network is a pod: a sandbox
// container owns the namespace (`none` unless network_mode says otherwise, never a bridge here),
// services and build containers join it and reach each other on 127.0.0.1 and by alias. Every
// object carries the worker's and job's labels; cleanup removes them all whatever the end.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { PassThrough } from "node:stream";
import {
  type Executor,
  ExecutorError,
  type ImageSpec,
  type PrepareContext,
  type StageIO,
  type StageResult,
  type StageRun,
} from "../executor.ts";
import { remoteWorkspace, type WorkspaceTransfer } from "../workspace-transfer.ts";
import {
  buildHostConfig,
  type ContainerCreateBody,
  type ContainerRole,
  type DockerSettings,
  jobLabels,
  sandboxHostConfig,
  serviceHostConfig,
  shellCommand,
} from "./container-spec.ts";
import { DockerProjectDir } from "./docker-workspace.ts";
import { connectEngine, type Engine, statusOf } from "./engine.ts";
import {
  imageBaseName,
  type PullPolicy,
  privilegedAllowed,
  resolvePullPolicies,
  serviceAliases,
  verifyAllowedImage,
} from "./image-policy.ts";
import { type RegistryAuth, resolveRegistryAuth } from "./registry-auth.ts";

/** The helper image when `[runners.docker] helper_image` is unset: Debian with bash and git. */
export const DEFAULT_HELPER_IMAGE = "runmesh/helper:bookworm";

export interface DockerExecutorOptions {
  settings: DockerSettings;
  runnerName: string;
  shortToken: string;
  workerId: string;
  /** The engine client; default: connect to `settings.host`. */
  engine?: () => Promise<Engine>;
  /** After SIGTERM, how long a stage's container gets before SIGKILL. Default 10 s. */
  gracefulKillTimeoutMs?: number;
}

interface Prepared {
  engine: Engine;
  jobId: number;
  buildsDir: string;
  image: ImageSpec & { name: string };
  helperImage: string;
  binds: string[];
  sandboxId: string;
  /** `container:<sandbox>`: what build and service containers join. */
  podNetwork: string;
  /** Where predefined stages run: the job's pod, or the host's network when the pod has none. */
  helperNetwork: string;
  privileged: boolean;
}

export class DockerExecutor implements Executor {
  readonly name = "docker";
  private prepared: Prepared | undefined;
  private engine: Engine | undefined;
  private jobId: number | undefined;

  constructor(private readonly o: DockerExecutorOptions) {}

  private get s(): DockerSettings {
    return this.o.settings;
  }

  private fail(message: string, reason: ExecutorError["failureReason"] = "runner_system_failure"): never {
    throw new ExecutorError(`runner "${this.o.runnerName}": docker executor: ${message}`, reason);
  }

  private labels(role: ContainerRole | "volume"): Record<string, string> {
    return jobLabels({
      workerId: this.o.workerId,
      jobId: this.jobId ?? 0,
      runnerToken: this.o.shortToken,
      role,
      user: this.s.container_labels,
    });
  }

  async prepare(ctx: PrepareContext): Promise<void> {
    this.jobId = ctx.jobId;
    // A retried prepare starts from nothing: what the last attempt created goes first.
    await this.cleanup();
    const image = this.jobImage(ctx);
    ctx.log(`Using Docker executor with image ${image.name} ...`);
    const engine = await this.connect();
    const helperImage = this.s.helper_image || DEFAULT_HELPER_IMAGE;
    const services = this.serviceSpecs(ctx, ctx.log);

    await this.ensureImage(engine, image.name, image.pull_policy, ctx, false, this.platformOf(image, ctx));
    ctx.log(`Using helper image: ${helperImage}`);
    await this.ensureImage(engine, helperImage, ["if-not-present"], ctx, true).catch((e: ExecutorError) => {
      // No registry has runmesh's default helper: it is built on the engine's host.
      if (helperImage !== DEFAULT_HELPER_IMAGE) throw e;
      this.fail(
        `${e.message.replace(/^runner "[^"]*": docker executor: /, "")}; build the helper image with scripts/helper-image.sh on the engine's host, or set [runners.docker] helper_image`,
        e.failureReason,
      );
    });
    for (const svc of services)
      await this.ensureImage(engine, svc.name, svc.pull_policy, ctx, false, this.platformOf(svc, ctx));

    const privileged =
      this.s.privileged && privilegedAllowed(image.name, this.s.allowed_privileged_images ?? []);
    const binds = await this.volumes(engine, ctx);
    const aliases = services.flatMap((svc) => serviceAliases(svc.name, svc.alias));
    const networkMode = this.s.network_mode || "none";
    const sandboxId = await this.startContainer(engine, {
      Image: helperImage,
      Cmd: ["sleep", "infinity"],
      Entrypoint: [],
      // Docker refuses a hostname on the host's network.
      Hostname: networkMode === "host" ? undefined : this.s.hostname || undefined,
      Labels: this.labels("sandbox"),
      // The builds volume too: the cache and artifact stages reach the project dir through it
      // (docker-workspace.ts).
      HostConfig: { ...sandboxHostConfig(this.s, { networkMode, aliases }), Binds: binds },
    });
    const podNetwork = `container:${sandboxId}`;
    this.prepared = {
      engine,
      jobId: ctx.jobId,
      buildsDir: ctx.buildsDir,
      image,
      helperImage,
      binds,
      sandboxId,
      podNetwork,
      // No bridge: a pod with network `none` cannot reach GitLab, so the runner's own stages
      // (git fetch, caches, artifacts) use the host's network, as the shell executor would.
      helperNetwork: networkMode === "none" ? "host" : podNetwork,
      privileged,
    };
    const started = [];
    for (const [i, svc] of services.entries()) started.push(await this.startService(svc, i, ctx));
    if (this.s.wait_for_services_timeout >= 0) for (const svc of started) await this.waitForService(svc, ctx);
  }

  /** The job's image (`image:`), else the runner's `image`; refused ones fail the job. */
  private jobImage(ctx: PrepareContext): ImageSpec & { name: string } {
    const fromJob = ctx.image?.name ? (ctx.expand?.(ctx.image.name) ?? ctx.image.name) : "";
    if (fromJob) {
      const verdict = verifyAllowedImage(fromJob, "images", this.s.allowed_images ?? [], [
        this.s.image ?? "",
      ]);
      if (verdict !== true) {
        for (const line of verdict.lines) ctx.log(line);
        this.fail(`${verdict.error} ${JSON.stringify(fromJob)}`, "runner_configuration_error");
      }
      return { ...ctx.image!, name: fromJob };
    }
    if (!this.s.image)
      this.fail(
        `no image: the job sets no image: and [runners.docker] image is empty; set one of them`,
        "runner_configuration_error",
      );
    return {
      name: this.s.image,
      alias: "",
      entrypoint: [],
      command: [],
      pull_policy: [],
      variables: [],
      ports: [],
      executor_opts: {},
    };
  }

  /** [[runners.docker.services]] then the job's `services:`, checked against allowed_services. */
  private serviceSpecs(ctx: PrepareContext, log: (l: string) => void): ImageSpec[] {
    const fromConfig: ImageSpec[] = (this.s.services ?? []).map((svc) => ({
      name: svc.name,
      alias: svc.alias ?? "",
      entrypoint: svc.entrypoint ?? [],
      command: svc.command ?? [],
      pull_policy: [],
      variables: (svc.environment ?? []).map((e) => {
        const eq = e.indexOf("=");
        return { key: eq < 0 ? e : e.slice(0, eq), value: eq < 0 ? "" : e.slice(eq + 1) };
      }),
      ports: [],
      executor_opts: {},
    }));
    const fromJob = (ctx.services ?? []).map((svc) => ({ ...svc, name: ctx.expand?.(svc.name) ?? svc.name }));
    for (const svc of fromJob) {
      const verdict = verifyAllowedImage(svc.name, "services", this.s.allowed_services ?? [], []);
      if (verdict !== true) {
        for (const line of verdict.lines) log(line);
        this.fail(`${verdict.error} ${JSON.stringify(svc.name)}`, "runner_configuration_error");
      }
    }
    const all = [...fromConfig, ...fromJob];
    const limit = this.s.services_limit;
    if (limit >= 0 && all.length > limit)
      this.fail(
        `the job uses ${all.length} services, more than [runners.docker] services_limit = ${limit}`,
        "runner_configuration_error",
      );
    return all;
  }

  private async connect(): Promise<Engine> {
    if (this.engine) return this.engine;
    try {
      this.engine = await (this.o.engine ?? (() => connectEngine(this.s)))();
      await this.engine.ping();
    } catch (e) {
      if (e instanceof ExecutorError) throw e;
      this.engine = undefined;
      this.fail(
        `cannot reach the Docker engine at ${this.s.host ?? "$DOCKER_HOST"}: ${(e as Error).message}`,
      );
    }
    return this.engine;
  }

  /** The image present locally, following the pull policies in order (GitLab's pull manager). */
  private async ensureImage(
    engine: Engine,
    name: string,
    jobPolicies: readonly string[],
    ctx: PrepareContext,
    internal = false,
    platform?: string,
  ): Promise<void> {
    const resolved = internal
      ? { policies: jobPolicies as PullPolicy[] }
      : resolvePullPolicies({
          image: name,
          job: jobPolicies,
          runner: this.s.pull_policy,
          allowed: this.s.allowed_pull_policies,
        });
    if ("error" in resolved) this.fail(resolved.error, "runner_configuration_error");
    let lastError = "";
    for (const policy of resolved.policies) {
      if (policy !== "always") {
        const local = await engine
          .getImage(name)
          .inspect()
          .catch(() => undefined);
        if (local) {
          ctx.log(`Using locally found image version due to "${policy}" pull policy`);
          ctx.log(`Using docker image ${local.Id} for ${name} ...`);
          return;
        }
        if (policy === "never") {
          lastError = `image ${JSON.stringify(name)} not found locally and pull_policy is "never"`;
          continue;
        }
      }
      ctx.log(`Pulling docker image ${name} ...`);
      try {
        const auth = await this.authFor(name, ctx);
        if (auth) ctx.log(`Authenticating with credentials from ${auth.source}`);
        await this.pull(engine, name, ctx.signal, auth, platform);
        const pulled = await engine.getImage(name).inspect();
        ctx.log(
          `Using docker image ${pulled.Id} for ${name} with digest ${pulled.RepoDigests?.[0] ?? pulled.Id} ...`,
        );
        return;
      } catch (e) {
        lastError = (e as Error).message;
        ctx.log(`WARNING: Failed to pull image with policy "${policy}": ${lastError}`);
      }
    }
    this.fail(
      `failed to pull image ${JSON.stringify(name)} with specified policies [${resolved.policies.join(" ")}]: ${lastError}`,
      "image_pull_failure",
    );
  }

  /** Credentials for `image`'s registry in GitLab Runner's precedence (registry-auth.ts). */
  private async authFor(image: string, ctx: PrepareContext): Promise<RegistryAuth | undefined> {
    const path = join(process.env.HOME || homedir(), ".docker", "config.json");
    const text = await readFile(path, "utf8").catch(() => undefined);
    return resolveRegistryAuth(image, {
      dockerAuthConfig: ctx.variables?.find((v) => v.key === "DOCKER_AUTH_CONFIG")?.value,
      homeConfig: text === undefined ? undefined : { path, text },
      credentials: ctx.credentials,
    });
  }

  /** `executor_opts.docker.platform`, expanded: the platform a pull asks for. */
  private platformOf(spec: ImageSpec, ctx: PrepareContext): string | undefined {
    const platform = spec.executor_opts.docker?.platform;
    return platform ? (ctx.expand?.(platform) ?? platform) : undefined;
  }

  private async pull(
    engine: Engine,
    name: string,
    signal: AbortSignal,
    auth?: RegistryAuth,
    platform?: string,
  ): Promise<void> {
    const ref = /:[^/]+$|@/.test(name) ? name : `${name}:latest`;
    const options: Record<string, unknown> = {};
    if (platform) options.platform = platform;
    if (auth)
      options.authconfig = {
        username: auth.username,
        password: auth.password,
        serveraddress: auth.serveraddress,
      };
    const stream = (await engine.pull(ref, options)) as Readable;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => stream.destroy(new Error("pull aborted"));
      signal.addEventListener("abort", onAbort, { once: true });
      engine.modem.followProgress(stream, (err: Error | null, events: { error?: string }[]) => {
        signal.removeEventListener("abort", onAbort);
        const failed = events?.find((ev) => ev.error);
        if (err) reject(err);
        else if (failed) reject(new Error(failed.error));
        else resolve();
      });
    });
  }

  /** The builds volume, the cache (volume or host dir) and `volumes`; returns the Binds. */
  private async volumes(engine: Engine, ctx: PrepareContext): Promise<string[]> {
    const builds = await engine.createVolume({
      Name: `runmesh-${this.o.workerId}-${ctx.jobId}-builds`.replace(/[^A-Za-z0-9_.-]/g, "_"),
      Labels: this.labels("volume"),
    });
    const binds = [`${builds.name}:${ctx.buildsDir}`];
    const cacheTarget = "/cache";
    if (this.s.cache_dir) binds.push(`${this.s.cache_dir}/${this.o.shortToken}:${cacheTarget}`);
    else if (!this.s.disable_cache)
      binds.push(`${await this.cacheVolume(engine, cacheTarget)}:${cacheTarget}`);
    for (const v of this.s.volumes ?? []) {
      if (v.includes(":")) binds.push(v);
      else if (this.s.disable_cache) {
        const anon = await engine.createVolume({ Labels: this.labels("volume") });
        binds.push(`${anon.name}:${v}`);
      } else binds.push(`${await this.cacheVolume(engine, v)}:${v}`);
    }
    return binds;
  }

  /** A cache volume outlives the job (GitLab's docker cache); the sweep leaves it. */
  private async cacheVolume(engine: Engine, target: string): Promise<string> {
    const hash = new Bun.CryptoHasher("md5").update(target).digest("hex").slice(0, 12);
    const name = `runmesh-cache-${this.o.shortToken}-${hash}`;
    await engine.createVolume({
      Name: name,
      Labels: {
        "runmesh.managed": "true",
        "runmesh.type": "cache",
        "runmesh.runner.short_token": this.o.shortToken,
      },
    });
    return name;
  }

  private async startContainer(engine: Engine, body: ContainerCreateBody): Promise<string> {
    const c = await engine.createContainer(body as Parameters<Engine["createContainer"]>[0]);
    try {
      await c.start();
    } catch (e) {
      this.fail(
        `starting a ${body.Labels["runmesh.type"]} container from ${body.Image}: ${(e as Error).message}`,
      );
    }
    return c.id;
  }

  private async startService(
    svc: ImageSpec,
    index: number,
    ctx: PrepareContext,
  ): Promise<{ id: string; name: string; ports: number[] }> {
    const p = this.prepared!;
    ctx.log(`Starting service ${svc.name} ...`);
    const privileged =
      (this.s.services_privileged ?? this.s.privileged) &&
      privilegedAllowed(svc.name, this.s.allowed_privileged_services ?? []);
    const labels = {
      ...this.labels("service"),
      "runmesh.service": imageBaseName(svc.name),
      "runmesh.service.index": String(index),
    };
    const id = await this.startContainer(p.engine, {
      Image: svc.name,
      Cmd: svc.command.length > 0 ? [...svc.command] : undefined,
      Entrypoint:
        svc.entrypoint.length > 0 && !this.s.disable_entrypoint_overwrite ? [...svc.entrypoint] : undefined,
      // GitLab gives services the job's public variables, then their own.
      Env: [...(ctx.variables ?? []).filter((v) => v.public === true && !v.file), ...svc.variables].map(
        (v) => `${v.key}=${v.value}`,
      ),
      User: dockerUser(svc) ?? undefined,
      Labels: labels,
      HostConfig: serviceHostConfig(this.s, { privileged, networkMode: p.podNetwork }),
    });
    const inspect = await p.engine.getImage(svc.name).inspect();
    const exposed = Object.keys(inspect.Config?.ExposedPorts ?? {})
      .filter((k) => k.endsWith("/tcp"))
      .map((k) => Number.parseInt(k, 10));
    const ports = [...new Set([...exposed, ...svc.ports.map((x) => x.number)])];
    return { id, name: svc.name, ports };
  }

  /**
   * GitLab's health check: a wait container in the pod dials every exposed TCP port on
   * 127.0.0.1 until it answers or wait_for_services_timeout passes; a service that does not
   * answer gives a warning, not a failure.
   */
  private async waitForService(svc: { id: string; name: string; ports: number[] }, ctx: PrepareContext) {
    const p = this.prepared!;
    if (svc.ports.length === 0) return;
    const probe = svc.ports
      .map((port) => `until (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; do sleep 0.1; done`)
      .join("; ");
    const c = await p.engine.createContainer({
      Image: p.helperImage,
      Entrypoint: [],
      Cmd: ["bash", "-c", probe],
      Labels: this.labels("wait"),
      HostConfig: { NetworkMode: p.podNetwork, Init: true },
    } as Parameters<Engine["createContainer"]>[0]);
    await c.start();
    const timeoutMs = this.s.wait_for_services_timeout * 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      c.wait().then(() => "up" as const),
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      }),
      new Promise<"aborted">((resolve) =>
        ctx.signal.addEventListener("abort", () => resolve("aborted"), { once: true }),
      ),
    ]);
    clearTimeout(timer);
    await c.remove({ force: true }).catch(() => {});
    if (outcome !== "timeout") return;
    const state = await p.engine
      .getContainer(svc.id)
      .inspect()
      .catch(() => undefined);
    const logs = await p.engine
      .getContainer(svc.id)
      .logs({ stdout: true, stderr: true, tail: 50 })
      .then((b) => stripFrames(b as unknown as Buffer))
      .catch(() => "");
    ctx.log("");
    ctx.log(`*** WARNING: Service ${svc.name} probably didn't start properly.`);
    ctx.log("");
    ctx.log(
      `Health check error:\nservice ${svc.name} did not answer on port ${svc.ports.join(", ")} within ${this.s.wait_for_services_timeout} s${state && !state.State.Running ? ` (it exited with code ${state.State.ExitCode})` : ""}`,
    );
    ctx.log("");
    ctx.log(`Service container logs:\n${logs}`);
    ctx.log("*********");
  }

  run(stage: StageRun, io: StageIO, signal: AbortSignal): Promise<StageResult> {
    const p = this.prepared;
    if (!p) return Promise.reject(new ExecutorError("docker executor: run before prepare"));
    const predefined = stage.kind === "predefined";
    const body: ContainerCreateBody = predefined
      ? {
          Image: p.helperImage,
          Entrypoint: [],
          Cmd: ["bash", "-s"],
          Env: envList(stage.env),
          Labels: this.labels("predefined"),
          OpenStdin: true,
          StdinOnce: true,
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
          HostConfig: {
            Binds: p.binds,
            NetworkMode: p.helperNetwork,
            Init: true,
            LogConfig: { Type: "json-file" },
          },
        }
      : {
          Image: p.image.name,
          // disable_entrypoint_overwrite: the image's own entrypoint, whatever the job says.
          Entrypoint:
            p.image.entrypoint.length > 0 && !this.s.disable_entrypoint_overwrite
              ? [...p.image.entrypoint]
              : undefined,
          Cmd: shellCommand(stage.shell),
          Env: envList(stage.env),
          User: dockerUser(p.image) ?? (this.s.user || undefined),
          Labels: this.labels("build"),
          OpenStdin: true,
          StdinOnce: true,
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
          HostConfig: buildHostConfig(this.s, {
            privileged: p.privileged,
            binds: p.binds,
            networkMode: p.podNetwork,
          }),
        };
    // The helper runs as root while the job may run as `user`: GitLab Runner gives predefined
    // stages umask 0000, so what they create in the builds volume stays writable for the job.
    const script = predefined ? `umask 0000\n${stage.script}` : stage.script;
    return this.runContainer(p.engine, body, { ...stage, script }, io, signal);
  }

  private async runContainer(
    engine: Engine,
    body: ContainerCreateBody,
    stage: StageRun,
    io: StageIO,
    signal: AbortSignal,
  ): Promise<StageResult> {
    let container: Awaited<ReturnType<Engine["createContainer"]>>;
    try {
      container = await engine.createContainer(body as Parameters<Engine["createContainer"]>[0]);
    } catch (e) {
      this.fail(`creating the ${stage.stage} container from ${body.Image}: ${(e as Error).message}`);
    }
    try {
      const stream = (await container.attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        hijack: true,
      })) as unknown as Writable & Readable;
      const out = sink((chunk) => io.onOutput(chunk, "stdout"));
      const err = sink((chunk) => io.onOutput(chunk, "stderr"));
      engine.modem.demuxStream(stream, out, err);
      const ended = new Promise<void>((resolve) => {
        stream.once("end", resolve);
        stream.once("close", resolve);
        stream.once("error", () => resolve());
      });
      // `next-exit`: a wait on a container not yet started would return at once with 0.
      const exited = container.wait({ condition: "next-exit" });
      try {
        await container.start();
      } catch (e) {
        this.fail(`starting the ${stage.stage} container from ${body.Image}: ${(e as Error).message}`);
      }
      stream.end(stage.script);
      let aborted = false;
      let killTimer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        aborted = true;
        container.kill({ signal: "SIGTERM" }).catch(() => {});
        killTimer = setTimeout(
          () => container.kill({ signal: "SIGKILL" }).catch(() => {}),
          this.o.gracefulKillTimeoutMs ?? 10_000,
        );
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      let status: { StatusCode: number };
      try {
        status = await exited;
      } finally {
        signal.removeEventListener("abort", onAbort);
        clearTimeout(killTimer);
      }
      // The output may trail the exit by a moment; never wait on it forever.
      await Promise.race([ended, Bun.sleep(2000)]);
      return { exitCode: status.StatusCode, aborted };
    } catch (e) {
      if (e instanceof ExecutorError) throw e;
      this.fail(`running the ${stage.stage} container: ${(e as Error).message}`);
    } finally {
      await container.remove({ force: true, v: true }).catch(() => {});
    }
  }

  /** Cache and artifact stages reach the project dir through the sandbox (docker-workspace.ts). */
  workspace(projectDir: string): WorkspaceTransfer {
    const p = this.prepared;
    if (!p) this.fail("workspace transfer before prepare");
    const where = `runner "${this.o.runnerName}": docker executor: job ${p.jobId}`;
    return remoteWorkspace(new DockerProjectDir(p.engine, p.sandboxId, projectDir, where));
  }

  /** Removes every container and volume of this job (the cache volume stays). */
  async cleanup(): Promise<void> {
    const engine = this.engine;
    if (!engine || this.jobId === undefined) return;
    this.prepared = undefined;
    await removeLabelled(engine, [`runmesh.worker=${this.o.workerId}`, `runmesh.job.id=${this.jobId}`]);
  }
}

/**
 * Removes containers (then volumes, not cache volumes) carrying every one of `labels`; what
 * was removed, named for the log. The cleanup of one job and the worker's start-up sweep.
 */
export async function removeLabelled(engine: Engine, labels: string[]): Promise<string[]> {
  const removed: string[] = [];
  const filters = JSON.stringify({ label: ["runmesh.managed=true", ...labels] });
  const containers = await engine.listContainers({ all: true, filters });
  await Promise.all(
    containers.map(async (c) => {
      await engine
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .then(() => removed.push(`container ${c.Names?.[0] ?? c.Id.slice(0, 12)}`))
        .catch((e: unknown) => {
          if (statusOf(e) !== 404) throw e;
        });
    }),
  );
  const { Volumes } = await engine.listVolumes({ filters });
  for (const v of Volumes ?? []) {
    if (v.Labels?.["runmesh.type"] === "cache") continue;
    await engine
      .getVolume(v.Name)
      .remove()
      .then(() => removed.push(`volume ${v.Name}`))
      .catch((e: unknown) => {
        if (statusOf(e) !== 404) throw e;
      });
  }
  return removed;
}

function dockerUser(spec: ImageSpec): string | undefined {
  const user = spec.executor_opts.docker?.user;
  return user === undefined || user === null || user === "" ? undefined : String(user);
}

function envList(env: Record<string, string> | undefined): string[] | undefined {
  return env ? Object.entries(env).map(([k, v]) => `${k}=${v}`) : undefined;
}

function sink(onChunk: (chunk: Uint8Array) => void): PassThrough {
  const s = new PassThrough();
  s.on("data", (chunk: Buffer) => onChunk(chunk));
  return s;
}

/** Docker's log stream frames (8-byte headers) to text. */
function stripFrames(buf: Buffer): string {
  let out = "";
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString("utf8");
    i += 8 + size;
  }
  return out || buf.toString("utf8");
}
