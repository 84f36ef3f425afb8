import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../log/logger.ts";
import { FakeGitLab } from "./fake-gitlab.ts";
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
  const fake = new FakeGitLab();
  try {
    fake.script("PATCH jobs/1/trace", {
      status: 307,
      headers: { Location: `${fake.url}/api/v4/jobs/2/trace` },
    });
    const http = new GitLabHttp({ url: fake.url, version: "1", logger });
    const res = await http.send({
      method: "PATCH",
      path: "jobs/1/trace",
      headers: { "Content-Range": "0-4", "JOB-TOKEN": "tok" },
      body: new TextEncoder().encode("hello"),
    });
    expect(res.status).toBe(202);
    const [moved] = fake.calls("PATCH jobs/2/trace");
    expect(new TextDecoder().decode(moved?.body)).toBe("hello");
    expect(moved?.headers.get("JOB-TOKEN")).toBe("tok");
  } finally {
    fake.stop();
  }
});
