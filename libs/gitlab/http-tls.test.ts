// The transport's TLS files (private CA, client certificate) against local TLS servers, and a
// 307 from a proxy followed with the PATCH body replayed to the strict test coordinator.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCoordinator } from "../../tests/coordinator/coordinator.ts";
import { createLogger } from "../log/logger.ts";
import { GitLabHttp, GitLabTransportError } from "./http.ts";

const logger = createLogger({ service: "test", level: "silent" });
let dir: string;
let cert: string;
let key: string;
let server: ReturnType<typeof Bun.serve>;
let mtlsServer: ReturnType<typeof Bun.serve>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "runmesh-tls-test-"));
  cert = join(dir, "cert.pem");
  key = join(dir, "key.pem");
  const gen = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
      .concat(["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"])
      .concat(["-addext", "subjectAltName=IP:127.0.0.1"]),
  );
  if (gen.exitCode !== 0) throw new Error(`openssl failed: ${gen.stderr.toString()}`);
  const tls = { cert: Bun.file(cert), key: Bun.file(key) };
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, tls, fetch: () => new Response("ok") });
  mtlsServer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { ...tls, ca: Bun.file(cert), requestCert: true, rejectUnauthorized: true },
    fetch: () => new Response("ok"),
  });
});
afterAll(() => {
  server?.stop(true);
  mtlsServer?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

describe("TLS files", () => {
  test("a private CA file makes a self-signed GitLab trusted", async () => {
    const http = new GitLabHttp({
      url: `https://127.0.0.1:${server.port}`,
      version: "1",
      logger,
      tls: { caFile: cert },
    });
    const res = await http.send({ method: "GET", path: "x" });
    expect(res.status).toBe(200);
  });

  test("without the CA file the certificate is refused", async () => {
    const http = new GitLabHttp({ url: `https://127.0.0.1:${server.port}`, version: "1", logger });
    await expect(http.send({ method: "GET", path: "x" })).rejects.toBeInstanceOf(GitLabTransportError);
  });

  test("client certificate and key are presented when GitLab asks for them", async () => {
    const url = `https://127.0.0.1:${mtlsServer.port}`;
    const withCert = new GitLabHttp({
      url,
      version: "1",
      logger,
      tls: { caFile: cert, certFile: cert, keyFile: key },
    });
    expect((await withCert.send({ method: "GET", path: "x" })).status).toBe(200);
    const without = new GitLabHttp({ url, version: "1", logger, tls: { caFile: cert } });
    await expect(without.send({ method: "GET", path: "x" })).rejects.toBeInstanceOf(GitLabTransportError);
  });
});

test("a 307 is followed with the PATCH body replayed", async () => {
  const coordinator = await startCoordinator();
  try {
    coordinator.registerRunner("glrt-http-tls-test");
    const job = coordinator.runJob("glrt-http-tls-test");
    const route = `PATCH jobs/${job.id}/trace`;
    // A proxy in front of GitLab sends the runner on with a 307 (method and body kept); the
    // request it points to reaches the Runner API, which appends the replayed body.
    coordinator.script(route, {
      status: 307,
      headers: { Location: `${coordinator.url}/api/v4/jobs/${job.id}/trace` },
    });
    const http = new GitLabHttp({ url: coordinator.url, version: "1", logger });
    const res = await http.send({
      method: "PATCH",
      path: `jobs/${job.id}/trace`,
      headers: { "Content-Range": "0-4", "Content-Type": "text/plain", "JOB-TOKEN": job.token },
      body: new TextEncoder().encode("hello"),
    });
    expect(res.status).toBe(202);
    const [redirected, moved] = coordinator.calls(route);
    expect(redirected?.status).toBe(307);
    expect(new TextDecoder().decode(moved?.raw)).toBe("hello");
    expect(moved?.headers["job-token"]).toBe(job.token);
    expect(job.traceText).toBe("hello");
  } finally {
    await coordinator.stop();
  }
});
