// deploy/compose/bootstrap.ts: what compose.yaml's containers mount, and a real nats-server (the
// Debian package) taking the written config: each identity's password lets it in as itself only.
import { afterAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { freePort } from "../../tests/infra/nats-server.ts";
import { bootstrapCompose, composeNatsConf, IMAGE_UID, NATS_UID, TIER_USERS } from "./bootstrap.ts";

const dirs: string[] = [];
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) p.kill("SIGTERM");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "runmesh-compose-bootstrap-"));
  dirs.push(d);
  return d;
};
const isRoot = process.getuid?.() === 0;

describe("composeNatsConf", () => {
  const hashes = Object.fromEntries([...TIER_USERS, "worker-1", "worker-2"].map((u) => [u, `$2b$10$${u}`]));
  test.each([
    [
      "defines each user's password variable before the allow-lists use it",
      "RUNMESH_NATS_WORKER_2_PASSWORD: ",
    ],
    ["gives every tier a user", 'user: "cache-signer"'],
    ["keeps the monitoring port on loopback", "http: 127.0.0.1:8222"],
    ["encrypts the JetStream store", "cipher: chachapoly"],
  ])("%s", (_, expected) => {
    const conf = composeNatsConf({ workers: ["worker-1", "worker-2"], hashes, storeKey: "k" });
    expect(conf).toContain(expected);
    expect(conf.indexOf("RUNMESH_NATS_WORKER_2_PASSWORD:")).toBeLessThan(
      conf.indexOf("$RUNMESH_NATS_WORKER_2_PASSWORD"),
    );
  });
  test("refuses a user without a hash, naming it", () => {
    expect(() => composeNatsConf({ workers: ["worker-3"], hashes, storeKey: "k" })).toThrow(/worker-3/);
  });
});

describe("bootstrapCompose", () => {
  test.skipIf(!isRoot)(
    "(as root) writes 0600 files owned as each container reads them; a re-run keeps every password and the store key and resizes the pool",
    async () => {
      const secrets = tmp();
      const config = join(tmp(), "config");
      const first = await bootstrapCompose({
        secretsDir: secrets,
        workers: 4,
        configDir: config,
        bcryptCost: 4,
      });
      expect(first.workers).toEqual(["worker-1", "worker-2", "worker-3", "worker-4"]);
      const owner = (p: string) => ({ uid: statSync(p).uid, mode: statSync(p).mode & 0o777 });
      for (const t of TIER_USERS)
        expect(owner(join(secrets, "tiers", `${t}.password`))).toEqual({ uid: IMAGE_UID, mode: 0o600 });
      for (const w of first.workers)
        expect(owner(join(secrets, "workers", `${w}.password`))).toEqual({ uid: 0, mode: 0o600 });
      expect(owner(join(secrets, "workers"))).toEqual({ uid: 0, mode: 0o700 });
      expect(owner(join(secrets, "nats-server", "nats.conf"))).toEqual({ uid: NATS_UID, mode: 0o600 });
      expect(owner(join(config, "config.toml"))).toEqual({ uid: IMAGE_UID, mode: 0o600 });
      expect(readFileSync(join(secrets, "tiers", "poller.password"), "utf8").trim()).toBe(
        first.passwords.poller!,
      );
      // No password in clear in the server's file: it holds bcrypt hashes.
      for (const p of Object.values(first.passwords)) expect(first.natsConf).not.toContain(p);
      const key = readFileSync(join(secrets, "nats-server", "store.key"), "utf8");

      const second = await bootstrapCompose({ secretsDir: secrets, workers: 2, bcryptCost: 4 });
      expect(second.passwords.poller).toBe(first.passwords.poller!);
      expect(second.passwords["worker-2"]).toBe(first.passwords["worker-2"]!);
      expect(readFileSync(join(secrets, "nats-server", "store.key"), "utf8")).toBe(key);
      expect(readdirSync(join(secrets, "workers")).sort()).toEqual([
        "worker-1.password",
        "worker-2.password",
      ]);
      // Without --workers, the pool keeps its size.
      expect((await bootstrapCompose({ secretsDir: secrets, bcryptCost: 4 })).workers).toHaveLength(2);
    },
  );

  test("nats-server takes the written config: over TLS each user gets in with its own password only, nobody without one", async () => {
    const secrets = tmp();
    const r = await bootstrapCompose({ secretsDir: secrets, workers: 2, chown: false, bcryptCost: 4 });
    const port = await freePort();
    // The conf's store dir is the container's /data (and nats-server refuses -sd beside it).
    const conf = join(secrets, "nats.conf");
    writeFileSync(
      conf,
      r.natsConf
        .replace('"/data/jetstream"', JSON.stringify(join(secrets, "js")))
        .replaceAll('"/etc/nats/', `"${join(secrets, "nats-server")}/`),
    );
    const proc = spawn("nats-server", ["-c", conf, "-a", "127.0.0.1", "-p", String(port)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    procs.push(proc);
    // TLS verified with the written CA, for the name the test's host network uses.
    const servers = [`tls://127.0.0.1:${port}`];
    const attempt = async (user?: string, pass?: string) =>
      connect({ servers, user, pass, reconnect: false, timeout: 5000, tls: { caFile: r.caFile } }).then(
        async (nc) => {
          await nc.close();
          return "in";
        },
        (e: Error) => e.message,
      );
    for (let i = 0; i < 100 && (await attempt(TIER_USERS[0], r.passwords[TIER_USERS[0]!])) !== "in"; i++)
      await Bun.sleep(100);
    for (const u of [...TIER_USERS, ...r.workers])
      expect({ u, got: await attempt(u, r.passwords[u]) }).toEqual({ u, got: "in" });
    expect(await attempt("worker-2", r.passwords["worker-1"])).toMatch(/authorization/i);
    expect(await attempt()).toMatch(/authorization/i);
  }, 30_000);
});
