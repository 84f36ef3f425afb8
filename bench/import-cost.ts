// What each import costs in a compiled binary (the bisect behind the tiers' idle-RSS ceilings,
// issue 13): for each module in the list, one `bun build --compile` entry that imports it and every
// module before it (so the delta is the marginal cost in load order), built with scripts/build.ts's
// flags, run until its "ready" line, then VmRSS / RssAnon (JS heap, malloc) / RssFile (pages of
// Bun's own code and of the embedded bundle that start-up touched) read after IDLE_MS; medians of 3.
// Also a bare hello world: the floor every runmesh binary starts from.
//
//   node_modules/.bin/bun bench/import-cost.ts                  (the default list below)
//   node_modules/.bin/bun bench/import-cost.ts zod pino libs/log/logger.ts   (your own list, in order)
//   node_modules/.bin/bun bench/import-cost.ts --cold   (each probe dropped from the page cache first,
//                                                        as bench/binaries.ts --cold)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { $ } from "bun";
import { BUILD_FLAGS } from "../scripts/build-flags.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
const RUNS = 3;
const IDLE_MS = 2000;

// What the tiers load at start-up, in load order. prom-client and Hono load only with a listen
// address (libs/metrics/process-metrics.ts), so they are not in it: name them to see their cost.
const DEFAULT_LIST = [
  "zod",
  "smol-toml",
  "pino",
  "@nats-io/transport-node",
  "@nats-io/jetstream",
  "@nats-io/kv",
  "libs/log/logger.ts",
  "libs/config/index.ts",
  "libs/messages/subjects.ts",
  "libs/bus/nats-bus.ts",
  "libs/metrics/process-metrics.ts",
  "libs/gitlab/client.ts",
  "services/poller/tier.ts",
  "services/scheduler/tier.ts",
  "services/executor-worker/tier.ts",
];

interface Rss {
  total: number;
  anon: number;
  file: number;
}

const resolveSpec = (spec: string) =>
  spec.startsWith("libs/") || spec.startsWith("services/") ? join(ROOT, spec) : spec;

function entryFor(specs: string[]): string {
  const lines = specs.map((s, i) => `import * as m${i} from ${JSON.stringify(resolveSpec(s))};`);
  // Keep every namespace reachable so the bundler cannot drop a module's top-level work.
  lines.push(`(globalThis as any).__keep = [${specs.map((_, i) => `m${i}`).join(", ")}];`);
  lines.push('console.log("ready");', "setInterval(() => {}, 1 << 30);");
  return lines.join("\n");
}

async function build(dir: string, name: string, source: string): Promise<string> {
  const entry = join(dir, `${name}.ts`);
  const out = join(dir, name);
  writeFileSync(entry, source);
  const p = Bun.spawn([BUN, "build", ...BUILD_FLAGS, entry, "--outfile", out], {
    cwd: ROOT,
    stdout: "ignore",
    stderr: "pipe",
  });
  if ((await p.exited) !== 0)
    throw new Error(`build of ${name} failed: ${await new Response(p.stderr).text()}`);
  return out;
}

function readRss(pid: number): Rss {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { total: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

async function measure(binary: string): Promise<Rss> {
  if (cold) await $`dd if=${binary} iflag=nocache count=0 status=none`;
  const runs: Rss[] = [];
  for (let i = 0; i < RUNS; i++) {
    const p = Bun.spawn([binary], { stdout: "pipe", stderr: "inherit" });
    const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
    let seen = "";
    while (!seen.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${binary} exited before "ready"`);
      seen += new TextDecoder().decode(value);
    }
    await Bun.sleep(IDLE_MS);
    runs.push(readRss(p.pid));
    p.kill("SIGKILL");
    await p.exited;
  }
  runs.sort((a, b) => a.total - b.total);
  return runs[Math.floor(runs.length / 2)]!;
}

const args = process.argv.slice(2);
const cold = args.includes("--cold");
const named = args.filter((a) => a !== "--cold");
const list = named.length ? named : DEFAULT_LIST;
for (const spec of list)
  if (isAbsolute(spec)) throw new Error(`${spec}: give a package name or a path under the repo`);
// Inside the repo, so the probes resolve packages from its node_modules.
mkdirSync(join(ROOT, ".tmp"), { recursive: true });
const dir = mkdtempSync(join(ROOT, ".tmp", "import-cost-"));
const fmt = (x: number) => x.toFixed(1);
try {
  const base = await measure(await build(dir, "hello", entryFor([])));
  console.log(
    `| imports (cumulative) | RSS MB | anon | file | Δ RSS | Δ anon | Δ file |\n|---|---|---|---|---|---|---|\n| (hello world) | ${fmt(base.total)} | ${fmt(base.anon)} | ${fmt(base.file)} | | | |`,
  );
  let prev = base;
  for (let k = 0; k < list.length; k++) {
    const r = await measure(await build(dir, `step${k}`, entryFor(list.slice(0, k + 1))));
    console.log(
      `| + ${list[k]} | ${fmt(r.total)} | ${fmt(r.anon)} | ${fmt(r.file)} | ${fmt(r.total - prev.total)} | ${fmt(r.anon - prev.anon)} | ${fmt(r.file - prev.file)} |`,
    );
    prev = r;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
