// `run --user`: scripts run through `su`, which by default puts the shell in a session of its
// own, out of reach of a signal to su's process group. Cancel, timeout and abort must still end
// every process of the job, background children included, and a finished stage must not leave
// one behind (it would hold the output pipes open and hang the job). Runs as root with a
// throwaway user, as `gitlab-runner run --user` does.
import { beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planJob } from "../../job/job-plan.ts";
import { parseJobPayload } from "../../job/payload.ts";
import { runJob } from "../../job/run-job.ts";
import { shellProvider } from "./provider.ts";
import { ShellExecutor } from "./shell-executor.ts";

const isRoot = process.getuid?.() === 0;
const USER = "runmesh-job-test";
const root = mkdtempSync(join(tmpdir(), "runmesh-user-"));

beforeAll(() => {
  if (!isRoot) return;
  try {
    execFileSync("id", [USER], { stdio: "ignore" });
  } catch {
    execFileSync("useradd", ["--create-home", "--shell", "/bin/bash", USER]);
  }
  // The job user writes its pid files and builds here.
  chmodSync(root, 0o777);
});

/** Pids the script wrote (`echo $! > bg; echo $$ > fg`), once both files exist. */
async function pids(dir: string): Promise<number[]> {
  const files = ["bg", "fg"].map((f) => join(dir, f));
  for (
    let i = 0;
    i < 200 && !files.every((f) => existsSync(f) && readFileSync(f, "utf8").endsWith("\n"));
    i++
  )
    await Bun.sleep(25);
  return files.map((f) => Number(readFileSync(f, "utf8")));
}

/** Gone, or a zombie waiting to be reaped. */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

async function allGone(list: number[]): Promise<boolean> {
  for (let i = 0; i < 100 && !list.every(gone); i++) await Bun.sleep(50);
  return list.every(gone);
}

function freshDir(name: string): string {
  const dir = mkdtempSync(join(root, `${name}-`));
  chmodSync(dir, 0o777);
  return dir;
}

/** A script that leaves a background child and then blocks in the foreground. */
const treeScript = (dir: string) =>
  `sleep 1000 & echo $! > ${dir}/bg; sh -c 'echo $$ > ${dir}/fg; exec sleep 1000'\n`;

describe("the shell executor with --user", () => {
  test.skipIf(!isRoot)("runs the script as the user (needs root to su)", async () => {
    let out = "";
    const r = await new ShellExecutor({ user: USER, loginShell: false }).run(
      { stage: "s", kind: "user", script: "id -un\n", shell: "bash" },
      { onOutput: (c) => (out += new TextDecoder().decode(c)) },
      new AbortController().signal,
    );
    expect(r.exitCode).toBe(0);
    expect(out).toBe(`${USER}\n`);
  });

  test.skipIf(!isRoot)(
    "a stopped stage ends the whole tree, background children included (needs root to su)",
    async () => {
      const dir = freshDir("stop");
      const stop = new AbortController();
      const running = new ShellExecutor({ user: USER, loginShell: false, gracefulKillTimeoutMs: 500 }).run(
        { stage: "s", kind: "user", script: treeScript(dir), shell: "bash" },
        { onOutput: () => {} },
        stop.signal,
      );
      const started = await pids(dir);
      stop.abort();
      const r = await running;
      expect(r.aborted).toBe(true);
      expect(await allGone(started)).toBe(true);
    },
  );

  test.skipIf(!isRoot)(
    "a finished stage leaves no background child behind and does not hang (needs root to su)",
    async () => {
      const dir = freshDir("done");
      const r = await new ShellExecutor({ user: USER, loginShell: false }).run(
        {
          stage: "s",
          kind: "user",
          script: `sleep 1000 & echo $! > ${dir}/bg; echo $$ > ${dir}/fg\n`,
          shell: "bash",
        },
        { onOutput: () => {} },
        new AbortController().signal,
      );
      expect(r.exitCode).toBe(0);
      expect(await allGone(await pids(dir))).toBe(true);
    },
  );
});

describe("cancel, timeout and abort of a job run with --user", () => {
  async function runTree(how: "cancel" | "abort" | "timeout") {
    const dir = freshDir(how);
    const parsed = parseJobPayload(
      JSON.stringify({
        id: 1,
        token: "t",
        git_info: { repo_url: "https://gitlab.example.com/g/p.git" },
        runner_info: { timeout: how === "timeout" ? 2 : 3600 },
        variables: [{ key: "GIT_STRATEGY", value: "none" }],
        steps: [{ name: "script", script: [treeScript(dir)], when: "on_success" }],
      }),
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const settings = { name: "r", short_token: "tok", executor: "shell", shell: "bash" };
    const buildsDir = freshDir(`${how}-builds`);
    const cancel = new AbortController();
    const abort = new AbortController();
    const result = runJob({
      plan: planJob(parsed.job, settings, {
        executor: shellProvider,
        layout: shellProvider.layout({ workerBuildsDir: buildsDir, workerCacheDir: `${buildsDir}-cache` }),
      }),
      executor: new ShellExecutor({ user: USER, loginShell: false, gracefulKillTimeoutMs: 500 }),
      log: { runner: () => {}, output: () => {}, endOutput: () => {} },
      cancelSignal: cancel.signal,
      abortSignal: abort.signal,
      systemId: "s",
      version: "1",
      revision: "r",
    });
    const started = await pids(dir);
    if (how === "cancel") cancel.abort();
    if (how === "abort") abort.abort();
    return { result: await result, started };
  }

  test.skipIf(!isRoot).each([
    ["cancel", "job_canceled"],
    ["abort", "job_canceled"],
    ["timeout", "job_execution_timeout"],
  ])("%s ends every process of the job (needs root to su)", async (how, reason) => {
    const { result, started } = await runTree(how as "cancel" | "abort" | "timeout");
    expect(result.failureReason).toBe(reason as "job_canceled");
    expect(await allGone(started)).toBe(true);
  });
});
