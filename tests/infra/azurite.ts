// Starts Azurite's blob service (npm `azurite`, under Node) on a free loopback port for tests:
// HTTPS with a throwaway self-signed certificate for 127.0.0.1 (GitLab Runner signs Azure SAS
// tokens for HTTPS only, and Azurite refuses an https-only SAS over plain http), telemetry off,
// a throwaway data dir; stopped by its pid only. Azurite verifies SAS signatures, expiry,
// permissions and the blob they name (reference/test-infra.md).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./nats-server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const READY_TIMEOUT_MS = 20_000;

/** Azurite's well-known development account. */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  /** host:port, what `StorageDomain` is set to for an emulator. */
  domain: string;
  port: number;
  pid: number;
  /** PEM of the self-signed certificate (its own CA): NODE_EXTRA_CA_CERTS or fetch's tls.ca. */
  caFile: string;
  ca: string;
  /** Creates a container with the account key (Azure's shared-key auth). */
  createContainer(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<Azurite> {
  const dir = mkdtempSync(join(tmpdir(), "runmesh-azurite-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const ssl = spawnSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  if (ssl.status !== 0) throw new Error(`openssl could not make Azurite's certificate: ${ssl.stderr}`);
  const port = await freePort();
  const bin = join(ROOT, "node_modules", "azurite", "dist", "src", "blob", "main.js");
  const child: ChildProcess = spawn(
    "node",
    [
      bin,
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      "--location",
      join(dir, "data"),
      "--cert",
      certFile,
      "--key",
      keyFile,
      "--disableTelemetry",
      "--skipApiVersionCheck",
      "--silent",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (c: string) => {
    stderr = (stderr + c).slice(-4000);
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`azurite did not listen on 127.0.0.1:${port} (exit ${child.exitCode}): ${stderr}`);
    }
    await Bun.sleep(50);
  }
  const ca = readFileSync(certFile, "utf8");
  const domain = `127.0.0.1:${port}`;
  return {
    domain,
    port,
    pid: child.pid!,
    caFile: certFile,
    ca,
    createContainer: (name) => createContainer(domain, ca, name),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Create Container with Shared Key authorization (the account key signs the request). */
async function createContainer(domain: string, ca: string, name: string): Promise<void> {
  const { createHmac } = await import("node:crypto");
  const date = new Date().toUTCString();
  const version = "2021-08-06";
  const toSign = [
    "PUT",
    "",
    "",
    "", // Content-Length: empty when 0 (versions since 2015-02-21)
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    `x-ms-date:${date}\nx-ms-version:${version}`,
    `/${AZURITE_ACCOUNT}/${AZURITE_ACCOUNT}/${name}\nrestype:container`,
  ].join("\n");
  const sig = createHmac("sha256", Buffer.from(AZURITE_KEY, "base64")).update(toSign).digest("base64");
  const res = await fetch(`https://${domain}/${AZURITE_ACCOUNT}/${name}?restype=container`, {
    method: "PUT",
    headers: {
      "x-ms-date": date,
      "x-ms-version": version,
      "Content-Length": "0",
      Authorization: `SharedKey ${AZURITE_ACCOUNT}:${sig}`,
    },
    tls: { ca },
  });
  if (res.status !== 201)
    throw new Error(`azurite: create container ${name}: ${res.status} ${await res.text()}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
