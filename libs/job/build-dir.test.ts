import { describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { acquireBuildSlot, projectSlug, sharedProjectDir } from "./build-dir.ts";

const root = mkdtempSync(join(tmpdir(), "runmesh-slots-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `b${++n}`);

describe("projectSlug", () => {
  test.each([
    ["https://gitlab-ci-token:t@gitlab.example.com/group/sub/proj.git", "group/sub/proj"],
    ["https://gitlab.example.com/group/proj", "group/proj"],
    ["file:///srv/git/proj.git", "srv/git/proj"],
    ["not a url", "project-7"],
    ["https://gitlab.example.com/", "project-7"],
    ["https://gitlab.example.com/a/../../etc.git", "etc"],
  ])("%s ⇒ %s", (url, slug) => {
    expect(projectSlug(url, 7)).toBe(slug);
  });

  test("the shared layout is <builds>/<short token>/<project slot>/<path>", () => {
    expect(sharedProjectDir("/builds", "abc", 2, "g/p")).toBe("/builds/abc/2/g/p");
  });
});

describe("acquireBuildSlot", () => {
  test("concurrent acquirers get distinct slots, lowest first, and release frees them", async () => {
    const buildsDir = fresh();
    const slots = await Promise.all(
      [0, 1, 2].map(() => acquireBuildSlot({ buildsDir, shortToken: "tok", slug: "g/p" })),
    );
    expect(slots.map((s) => s.concurrentId).sort()).toEqual([0, 1, 2]);
    expect(slots.map((s) => s.concurrentProjectId).sort()).toEqual([0, 1, 2]);
    await slots[1]!.release();
    await slots[1]!.release();
    const again = await acquireBuildSlot({ buildsDir, shortToken: "tok", slug: "g/p" });
    expect(again.concurrentId).toBe(slots[1]!.concurrentId);
    for (const s of [slots[0]!, slots[2]!, again]) await s.release();
  });

  test("project slots are counted per project, concurrent ids per runner", async () => {
    const buildsDir = fresh();
    const a = await acquireBuildSlot({ buildsDir, shortToken: "tok", slug: "g/a" });
    const b = await acquireBuildSlot({ buildsDir, shortToken: "tok", slug: "g/b" });
    expect([a.concurrentId, b.concurrentId]).toEqual([0, 1]);
    expect([a.concurrentProjectId, b.concurrentProjectId]).toEqual([0, 0]);
    await a.release();
    await b.release();
  });

  test("a slot held by another live process is skipped", async () => {
    const buildsDir = fresh();
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const { acquireBuildSlot } = await import(${JSON.stringify(join(import.meta.dir, "build-dir.ts"))});
         const s = await acquireBuildSlot({ buildsDir: ${JSON.stringify(buildsDir)}, shortToken: "tok", slug: "g/p" });
         console.log("held " + s.concurrentId);
         process.stdin.resume(); await new Promise((r) => process.stdin.on("end", r));
         await s.release();`,
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const held = await new Promise<string>((resolve) =>
      holder.stdout.once("data", (d) => resolve(String(d).trim())),
    );
    expect(held).toBe("held 0");
    const mine = await acquireBuildSlot({ buildsDir, shortToken: "tok", slug: "g/p" });
    expect(mine.concurrentId).toBe(1);
    expect(mine.concurrentProjectId).toBe(1);
    holder.stdin.end();
    await new Promise((r) => holder.once("exit", r));
    await mine.release();
  });

  test("a lock left by a dead process is reclaimed", async () => {
    const buildsDir = fresh();
    const dead = spawnSync("true").pid!;
    for (const sub of ["concurrent", `project/${encodeURIComponent("g/p")}`]) {
      const dir = join(buildsDir, ".runmesh-locks", "tok", sub);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "0.lock"), JSON.stringify({ pid: dead, host: hostname(), token: "old" }));
    }
    const slot = await acquireBuildSlot({ buildsDir, shortToken: "tok", slug: "g/p" });
    expect(slot.concurrentId).toBe(0);
    expect(slot.concurrentProjectId).toBe(0);
    await slot.release();
    expect(existsSync(join(buildsDir, ".runmesh-locks", "tok", "concurrent", "0.lock"))).toBe(false);
  });

  test("a dead pid on another host is not judged (the pid means nothing here)", async () => {
    const buildsDir = fresh();
    const dir = join(buildsDir, ".runmesh-locks", "tok", "concurrent");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "0.lock"),
      JSON.stringify({ pid: spawnSync("true").pid, host: "elsewhere", token: "x" }),
    );
    const slot = await acquireBuildSlot({ buildsDir, shortToken: "tok", slug: "g/p" });
    expect(slot.concurrentId).toBe(1);
    await slot.release();
  });

  test("a slot is never held twice while jobs take and free slots in a tight loop", async () => {
    // A release between another acquirer's EEXIST and its stale check once let that acquirer
    // unlink the lock a third had just created: two jobs in one project dir (issue 16).
    const buildsDir = fresh();
    const held = new Set<number>();
    const doubles: number[] = [];
    const lane = async () => {
      for (let i = 0; i < 150; i++) {
        const slot = await acquireBuildSlot({ buildsDir, shortToken: "tok", slug: "g/p" });
        if (held.has(slot.concurrentProjectId)) doubles.push(slot.concurrentProjectId);
        held.add(slot.concurrentProjectId);
        await Bun.sleep(0);
        held.delete(slot.concurrentProjectId);
        await slot.release();
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    expect(doubles).toEqual([]);
  }, 60_000);
});
