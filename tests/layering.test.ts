// Layers: no lower layer imports a higher one. Libraries never import services; inside libs, the
// order below holds (a folder may import its own layer and any lower one). The check parses every
// import of every non-test .ts file under libs/ and services/, so anyone can run it.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

/** Lowest first; services sit above every library. */
const LAYERS: readonly (readonly string[])[] = [
  ["libs/log", "libs/config", "libs/failpoints", "libs/build-info"],
  [
    "libs/bus",
    "libs/messages",
    "libs/gitlab",
    "libs/shell",
    "libs/ssh",
    "libs/executors",
    "libs/metrics",
    "libs/fleeting",
    "libs/telemetry",
    "libs/artifacts",
    "libs/cache",
  ],
  ["libs/job", "libs/git", "libs/trace"],
  ["services"],
];

function layerOf(path: string): number | undefined {
  const i = LAYERS.findIndex((names) => names.some((n) => path === n || path.startsWith(`${n}/`)));
  return i < 0 ? undefined : i;
}

/** `from` (a file) importing `to` (a file): the reason it breaks the layering, or undefined. */
function violation(from: string, to: string): string | undefined {
  const a = layerOf(from);
  const b = layerOf(to);
  if (a === undefined || b === undefined) return undefined;
  if (b > a) return `${from} imports ${to}: a lower layer imports a higher one`;
  return undefined;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(path));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!;
    if (spec.startsWith(".")) out.push(relative(ROOT, resolve(ROOT, dirname(file), spec)));
  }
  return out;
}

describe("layering", () => {
  test.each([
    ["libs/shell/stage-scripts.ts", "libs/job/variables.ts", true],
    ["libs/config/config-reload.ts", "libs/job/run-job.ts", true],
    ["libs/executors/registry.ts", "services/executor-worker/main.ts", true],
    ["libs/job/stages.ts", "libs/executors/executor.ts", false],
    ["libs/job/stages.ts", "libs/git/get-sources.ts", false],
    ["services/executor-worker/main.ts", "libs/executors/runner-clients.ts", false],
  ])("%s → %s breaks the layering: %p", (from, to, breaks) => {
    expect(violation(from, to) !== undefined).toBe(breaks);
  });

  test("the import parser sees the imports of a file, resolved from the repository root", () => {
    expect(importsOf("libs/executors/runner-clients.ts")).toContain("libs/executors/registry.ts");
    expect(importsOf("services/runmesh/main.ts")).toContain("services/executor-worker/tier.ts");
  });

  test("no file under libs/ or services/ imports a higher layer", () => {
    const found: string[] = [];
    for (const file of [...sourceFiles("libs"), ...sourceFiles("services")]) {
      for (const target of importsOf(file)) {
        const v = violation(file, target);
        if (v) found.push(v);
      }
    }
    expect(found).toEqual([]);
  });

  test("every libs folder has a layer", () => {
    const folders = readdirSync(join(ROOT, "libs"), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `libs/${e.name}`);
    expect(folders.filter((f) => layerOf(`${f}/x.ts`) === undefined)).toEqual([]);
  });
});
