// The connection to a Docker engine: dockerode, loaded only when a docker job first needs it
// (it costs ~30 MB and ~100 ms at import, ecosystem.md §1, so a shell-only worker never pays).
// `[runners.docker] host` names the engine (unix:// or tcp://, with tls_cert_path/tls_verify as
// GitLab Runner's docker.Credentials); without it DOCKER_HOST; never an implicit default socket.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type Dockerode from "dockerode";
import { ExecutorError } from "../executor.ts";

export type Engine = Dockerode;

export interface EngineAddress {
  host?: string;
  tls_cert_path?: string;
  tls_verify?: boolean;
}

/** dockerode's connection options for `host` (pure, tested); throws a configuration error. */
export function engineOptions(a: EngineAddress, env: Record<string, string | undefined> = process.env) {
  const host = a.host || env.DOCKER_HOST;
  if (!host)
    throw new ExecutorError(
      `[runners.docker] host: not set and DOCKER_HOST is empty; expected the engine's address, e.g. "unix:///run/docker.sock" or "tcp://127.0.0.1:2376" (runmesh never falls back to a default socket)`,
      "runner_configuration_error",
    );
  if (host.startsWith("unix://")) return { socketPath: host.slice("unix://".length) };
  const m = /^(tcp|http|https):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(host);
  if (!m)
    throw new ExecutorError(
      `[runners.docker] host: expected "unix:///path" or "tcp://host:port", got ${JSON.stringify(host)}`,
      "runner_configuration_error",
    );
  const certPath = a.tls_cert_path || env.DOCKER_CERT_PATH;
  const tls = m[1] === "https" || a.tls_verify === true || Boolean(certPath);
  return {
    host: m[2]!.replace(/^\[|\]$/g, ""),
    port: Number(m[3]),
    protocol: (tls ? "https" : "http") as "https" | "http",
    ...(tls && certPath
      ? {
          ca: readFileSync(join(certPath, "ca.pem")),
          cert: readFileSync(join(certPath, "cert.pem")),
          key: readFileSync(join(certPath, "key.pem")),
        }
      : {}),
  };
}

let dockerodeModule: Promise<typeof Dockerode> | undefined;

/** A client for the engine at `a`, dockerode imported on first use. */
export async function connectEngine(a: EngineAddress): Promise<Engine> {
  const options = engineOptions(a);
  dockerodeModule ??= import("dockerode").then((m) => m.default);
  const Docker = await dockerodeModule;
  return new Docker(options);
}

/** Whether dockerode has been loaded in this process (the idle-memory test reads it). */
export function engineLoaded(): boolean {
  return dockerodeModule !== undefined;
}

/** The HTTP status of a dockerode error, if any. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown })?.statusCode;
  return typeof code === "number" ? code : undefined;
}
