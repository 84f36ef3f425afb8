// Throughput of the custom executor's workspace transfer (libs/executors/custom/driver-workspace.ts):
// a tree of incompressible files exported from the project dir to a worker staging dir
// (list + framed base64 tar on run_exec's stdout) and imported back (base64 here-document in
// the script), through a local driver (`bash "$1"`), beside plain `tar | tar` of the same tree
// on this host: what the base64 framing and the driver round trip cost.
//
//   nice -n 10 node_modules/.bin/bun bench/custom-transfer.ts [MB, default 64]
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { customSchema } from "../libs/config/executor-sections.ts";
import { CustomExecutor } from "../libs/executors/custom/custom-executor.ts";

const MB = Number(process.argv[2] ?? "64");
const dir = mkdtempSync(join(tmpdir(), "runmesh-custom-transfer-bench-"));
const project = join(dir, "project");
const files = 16;
mkdirSync(join(project, "out"), { recursive: true });
for (let i = 0; i < files; i++)
  writeFileSync(
    join(project, "out", `f${i}.bin`),
    crypto.getRandomValues(new Uint8Array((MB * 1024 * 1024) / files)),
  );
const run = join(dir, "run.sh");
writeFileSync(run, '#!/bin/bash\nbash "$1"\n');
chmodSync(run, 0o755);
const executor = new CustomExecutor({ settings: customSchema.parse({ run_exec: run }), runnerName: "bench" });
const signal = new AbortController().signal;

async function timed(f: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
}

const rows: [string, number][] = [];
for (let round = 0; round < 3; round++) {
  const staging = join(dir, `staging-${round}`);
  const back = join(dir, `back-${round}`);
  const plain = join(dir, `plain-${round}`);
  mkdirSync(staging, { recursive: true });
  mkdirSync(plain, { recursive: true });
  const ws = executor.workspace(project);
  rows.push([
    "export (list + tar, base64 on stdout)",
    await timed(() => ws.exportPaths({ paths: ["out"], exclude: [], untracked: false }, staging, signal)),
  ]);
  const tree = join(staging, "project");
  const importer = executor.workspace(back);
  rows.push(["import (base64 here-document, tar -x)", await timed(() => importer.importTree(tree, signal))]);
  rows.push([
    "plain tar | tar on this host",
    await timed(() => execFileSync("sh", ["-c", `tar -cf - -C ${project} out | tar -xf - -C ${plain}`])),
  ]);
}
await executor.cleanup();
rmSync(dir, { recursive: true, force: true });

console.log(`custom executor workspace transfer, ${MB} MB in ${files} files, local driver, medians of 3`);
for (const name of new Set(rows.map(([n]) => n))) {
  const s = rows.filter(([n]) => n === name).map(([, t]) => t);
  s.sort((a, b) => a - b);
  const median = s[1] ?? s[0] ?? 0;
  console.log(`  ${name.padEnd(40)} ${median.toFixed(2)} s  ${(MB / median).toFixed(0)} MB/s`);
}
