// dockerode costs ~40 MiB and a few hundred ms to load (bench/docker-overhead.ts): a worker loads
// it only when a docker job first connects to its engine, never at start or on a shell job.
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../../..");

test("the worker, its registry and a docker executor load no dockerode until a job connects", () => {
  const probe = `
    const loaded = () => Object.keys(require.cache).filter((k) => k.includes("/node_modules/dockerode/")).length;
    await import(${JSON.stringify(join(ROOT, "services/executor-worker/main.ts"))});
    const { builtinExecutors } = await import(${JSON.stringify(join(ROOT, "libs/executors/registry.ts"))});
    builtinExecutors().get("docker").create({ worker: {}, runner: {} });
    const before = loaded();
    const { connectEngine } = await import(${JSON.stringify(join(ROOT, "libs/executors/docker/engine.ts"))});
    await connectEngine({ host: "unix:///nonexistent.sock" });
    console.log(JSON.stringify({ before, after: loaded() }));`;
  const r = Bun.spawnSync([process.execPath, "-e", probe], { cwd: ROOT });
  const out = JSON.parse(r.stdout.toString().trim()) as { before: number; after: number };
  expect(out.before).toBe(0);
  expect(out.after).toBeGreaterThan(0);
});
