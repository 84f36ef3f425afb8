// ssh2 is loaded on a worker's first ssh connection, not when the worker or its registry starts
// (every worker, poller and scheduler imports the executor registry).
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

test("the worker, its registry and an ssh executor load no ssh2 until a job connects", () => {
  const probe = `
    const loaded = () => Object.keys(require.cache).filter((k) => k.includes("/node_modules/ssh2/")).length;
    await import(${JSON.stringify(join(ROOT, "services/executor-worker/main.ts"))});
    const { builtinExecutors } = await import(${JSON.stringify(join(ROOT, "libs/executors/registry.ts"))});
    builtinExecutors().get("ssh").create({ worker: {}, runner: { ssh: { host: "127.0.0.1", port: "1", disable_strict_host_key_checking: true } } });
    const before = loaded();
    const { SshConnector } = await import(${JSON.stringify(join(ROOT, "libs/ssh/connector.ts"))});
    await new SshConnector().connect({ host: "127.0.0.1", port: 1, user: "u", strictHostKeyChecking: false }).catch(() => {});
    console.log(JSON.stringify({ before, after: loaded() }));`;
  const r = Bun.spawnSync([process.execPath, "-e", probe], { cwd: ROOT });
  const out = JSON.parse(r.stdout.toString().trim()) as { before: number; after: number };
  expect(out.before).toBe(0);
  expect(out.after).toBeGreaterThan(0);
});
