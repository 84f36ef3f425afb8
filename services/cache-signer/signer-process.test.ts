// `runmesh cache-signer --config config.toml --nats URL` as its own process on a real nats-server:
// it serves with the file's signed caches, re-reads the file when it changes and on SIGHUP (the
// next request is signed with the new caches), keeps the running caches when the new file is
// broken, refuses to run without NATS, serves /healthz on --listen-address, and never prints a
// credential or a runner token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MeshProcess, spawnRunmesh } from "../../tests/e2e/processes.ts";
import { freePort, type NatsServer, startNatsServer } from "../../tests/infra/nats-server.ts";

const TOKEN = "glrt-signer-process-0123456789";
const TOKEN_2 = "glrt-azurecache-process-abcdefghij";
const SECRET = "signer-process-secret-13579";
const AZURE_KEY = "c2lnbmVyLXByb2Nlc3MtYXp1cmUta2V5";
const dir = mkdtempSync(join(tmpdir(), "runmesh-signer-proc-"));
const configPath = join(dir, "config.toml");

const s3Entry = `
[[runners]]
name = "s3"
url = "https://gitlab.example.com"
token = "${TOKEN}"
executor = "shell"
[runners.cache]
Type = "s3"
[runners.cache.s3]
ServerAddress = "127.0.0.1:9"
BucketName = "b"
AccessKey = "AKIAPROC"
SecretKey = "${SECRET}"
`;
const azureEntry = `
[[runners]]
name = "azure"
url = "https://gitlab.example.com"
token = "${TOKEN_2}"
executor = "shell"
[runners.cache]
Type = "azure"
[runners.cache.azure]
AccountName = "acct"
AccountKey = "${AZURE_KEY}"
ContainerName = "c"
`;

let nats: NatsServer;
let signer: MeshProcess;
let listenPort: number;

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  writeFileSync(configPath, `concurrent = 1\n${s3Entry}`);
  listenPort = await freePort();
  signer = spawnRunmesh([
    "cache-signer",
    "--config",
    configPath,
    "--nats",
    nats.url,
    `--listen-address=127.0.0.1:${listenPort}`,
  ]);
  // "runmesh ready" comes once the file is watched.
  await signer.waitFor("runmesh ready", 30_000);
});

afterAll(async () => {
  signer?.kill("SIGTERM");
  await signer?.exited;
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const runnersIn = (line: string) => JSON.parse(line).runners as number;

describe("runmesh cache-signer", () => {
  test("serves the file's signed caches over NATS", async () => {
    const line = await signer.waitFor("cache-signer serving");
    expect(runnersIn(line)).toBe(1);
    expect(signer.lines.some((l) => l.includes('"transport":"nats"'))).toBe(true);
  });

  test("--listen-address serves /healthz (compose.yaml's healthcheck)", async () => {
    const r = await fetch(`http://127.0.0.1:${listenPort}/healthz`);
    expect({ status: r.status, body: await r.text() }).toEqual({ status: 200, body: "ok\n" });
  });

  test("a changed file is re-read (file watch), a broken one is not, and SIGHUP re-reads it", async () => {
    const reloads = () => signer.lines.filter((l) => l.includes("caches reloaded"));
    writeFileSync(configPath, `concurrent = 1\n${s3Entry}${azureEntry}`);
    await waitUntil(() => reloads().length >= 1);
    expect(runnersIn(reloads()[0]!)).toBe(2);

    writeFileSync(configPath, `concurrent = 1\n${s3Entry}\n[runners.cache.s3]\nInsecure = "maybe"\n`);
    await signer.waitFor("configuration not reloaded", 15_000);
    expect(reloads().length).toBe(1);

    writeFileSync(configPath, `concurrent = 1\n${azureEntry}`);
    await waitUntil(() => reloads().length >= 2);
    expect(runnersIn(reloads()[1]!)).toBe(1);
    signer.kill("SIGHUP");
    await waitUntil(() => signer.lines.some((l) => l.includes('"why":"SIGHUP"')));
    expect(reloads().length).toBe(3);
    // Three file-watch periods of 3 s each.
  }, 60_000);

  test("no credential and no runner token in any line it printed", () => {
    for (const l of signer.lines)
      for (const secret of [SECRET, AZURE_KEY, TOKEN, TOKEN_2]) expect(l.includes(secret)).toBe(false);
  });

  test("without NATS it refuses to start and says how to give it", async () => {
    const alone = spawnRunmesh(["cache-signer", "--config", configPath], { env: { RUNMESH_NATS_URL: "" } });
    expect(await alone.exited).toBe(1);
    expect(alone.lines.join("\n")).toContain('"cache-signer" runs alone only over NATS: pass --nats');
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}
