import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ShellExecutor } from "./shell-executor.ts";

const dir = mkdtempSync(join(tmpdir(), "runmesh-shell-exec-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

function collect() {
  const chunks: { text: string; stream: string }[] = [];
  const decoder = new TextDecoder();
  return {
    chunks,
    io: {
      onOutput: (c: Uint8Array, stream: "stdout" | "stderr") =>
        chunks.push({ text: decoder.decode(c), stream }),
    },
    text: (stream: string) =>
      chunks
        .filter((c) => c.stream === stream)
        .map((c) => c.text)
        .join(""),
  };
}

const never = new AbortController().signal;

describe("ShellExecutor", () => {
  test("prepare creates builds_dir and says which shell it uses", async () => {
    const lines: string[] = [];
    const buildsDir = join(dir, "nested", "builds");
    await new ShellExecutor().prepare({
      buildsDir,
      projectDir: join(buildsDir, "p"),
      shell: "sh",
      log: (l) => lines.push(l),
      signal: never,
      jobId: 1,
    });
    expect(existsSync(buildsDir)).toBe(true);
    expect(lines).toEqual(["Using Shell (sh) executor..."]);
  });

  test("streams stdout and stderr separately and returns the exit code", async () => {
    const out = collect();
    const r = await new ShellExecutor({ loginShell: false }).run(
      {
        stage: "step_script",
        kind: "user",
        script: "echo out; echo err >&2; exit 5\n",
        shell: "bash",
        env: { EXTRA: "x" },
      },
      out.io,
      never,
    );
    expect(r).toEqual({ exitCode: 5, aborted: false });
    expect(out.text("stdout")).toBe("out\n");
    expect(out.text("stderr")).toBe("err\n");
  });

  test("passes the stage environment on top of the base environment", async () => {
    const out = collect();
    await new ShellExecutor({ loginShell: false, baseEnv: { PATH: process.env.PATH, BASE: "b" } }).run(
      { stage: "s", kind: "user", script: 'echo "$BASE $EXTRA"\n', shell: "sh", env: { EXTRA: "e" } },
      out.io,
      never,
    );
    expect(out.text("stdout")).toBe("b e\n");
  });

  test("output arrives while the script still runs", async () => {
    const out = collect();
    const abort = new AbortController();
    const executor = new ShellExecutor({ loginShell: false });
    const io = {
      onOutput: (c: Uint8Array, s: "stdout" | "stderr") => {
        out.io.onOutput(c, s);
        if (out.text("stdout").includes("first")) abort.abort();
      },
    };
    const r = await executor.run(
      { stage: "s", kind: "user", script: "echo first; sleep 30; echo second\n", shell: "bash" },
      io,
      abort.signal,
    );
    expect(r.aborted).toBe(true);
    expect(out.text("stdout")).toBe("first\n");
  });

  test("a script that ignores SIGTERM is SIGKILLed after the grace period, with its children", async () => {
    const pidFile = join(dir, "ignorer.pid");
    const abort = new AbortController();
    const out = collect();
    const io = {
      onOutput: (c: Uint8Array, s: "stdout" | "stderr") => {
        out.io.onOutput(c, s);
        if (out.text("stdout").includes("ready")) abort.abort();
      },
    };
    const r = await new ShellExecutor({
      loginShell: false,
      gracefulKillTimeoutMs: 200,
      forceKillTimeoutMs: 2000,
    }).run(
      {
        stage: "s",
        kind: "user",
        script: `trap '' TERM; sleep 1000 & echo $! > ${pidFile}; echo ready; wait; echo survived-term\n`,
        shell: "bash",
      },
      io,
      abort.signal,
    );
    expect(r.aborted).toBe(true);
    expect(out.text("stdout")).not.toContain("survived-term");
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(await waitGone(pid)).toBe(true);
  });

  test("an already aborted signal stops the script at once", async () => {
    const abort = new AbortController();
    abort.abort();
    const r = await new ShellExecutor({ loginShell: false }).run(
      { stage: "s", kind: "user", script: "sleep 30\n", shell: "sh" },
      collect().io,
      abort.signal,
    );
    expect(r.aborted).toBe(true);
  });

  test("background children do not outlive a finished stage", async () => {
    const pidFile = join(dir, "leftover.pid");
    const r = await new ShellExecutor({ loginShell: false }).run(
      { stage: "s", kind: "user", script: `sleep 1000 & echo $! > ${pidFile}\n`, shell: "bash" },
      collect().io,
      never,
    );
    expect(r.exitCode).toBe(0);
    expect(await waitGone(Number(readFileSync(pidFile, "utf8")))).toBe(true);
  });

  test("with a user, the script runs through su", () => {
    expect(new ShellExecutor({ user: "builder" }).commandFor("bash", true)).toEqual([
      "su",
      ["-s", "/bin/bash", "builder", "--session-command", "bash -l"],
    ]);
    expect(new ShellExecutor({ user: "builder" }).commandFor("bash", false)).toEqual([
      "su",
      ["-s", "/bin/bash", "builder", "-c", "bash -l"],
    ]);
    expect(new ShellExecutor().commandFor("sh")).toEqual(["sh", ["-l"]]);
  });

  test.skipIf(process.getuid?.() !== 0)(
    "runs as another user when root asks for it (needs root: skipped otherwise)",
    async () => {
      const out = collect();
      const r = await new ShellExecutor({ user: "nobody", loginShell: false }).run(
        { stage: "s", kind: "user", script: "id -un\n", shell: "sh" },
        out.io,
        never,
      );
      expect(r.exitCode).toBe(0);
      expect(out.text("stdout")).toBe("nobody\n");
    },
  );
});

/** Waits (boundedly) for a killed process to be gone: signal delivery is not instantaneous. */
async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && !processGone(pid); i++) await Bun.sleep(50);
  return processGone(pid);
}

/** Gone or a zombie waiting for its new parent to reap it. */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}
