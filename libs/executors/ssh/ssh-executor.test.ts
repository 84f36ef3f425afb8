// The ssh executor against a real OpenSSH sshd on a loopback port (tests/infra/sshd.ts): stages
// run remotely as the [runners.ssh] user, output streamed, exit codes kept, a cancel kills the
// remote process tree, builds_dir created on the host, connection errors are system failures.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { type Sshd, sshdMissing, startSshd } from "../../../tests/infra/sshd.ts";
import { SshConnector } from "../../ssh/connector.ts";
import { ExecutorError } from "../executor.ts";
import type { RunnerEntrySettings } from "../provider.ts";
import { remoteDir, sshProvider, sshTarget } from "./provider.ts";
import { SshExecutor, stageCommand } from "./ssh-executor.ts";

const missing = sshdMissing();
const never = new AbortController().signal;

function collect() {
  const chunks: { text: string; stream: string }[] = [];
  const decoder = new TextDecoder();
  return {
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

describe("ssh layout and target", () => {
  test.each([
    ["builds", "/home/u", "/home/u/builds"],
    ["~/b", "/home/u", "/home/u/b"],
    ["$PWD/b", "/root", "/root/b"],
    ["/srv/builds/", "/root", "/srv/builds"],
  ])("builds_dir %s under %s is %s", (dir, home, want) => {
    expect(remoteDir(dir, home)).toBe(want);
  });

  test("GitLab's defaults: localhost, root, port 22, host keys checked", () => {
    expect(sshTarget({ ssh: { port: "22", disable_strict_host_key_checking: false } })).toMatchObject({
      host: "localhost",
      user: "root",
      port: 22,
      strictHostKeyChecking: true,
    });
  });

  test("the default builds dir is builds under the user's login directory, shared", () => {
    const runner: RunnerEntrySettings = {
      ssh: { user: "deploy", host: "h", port: "2200", disable_strict_host_key_checking: true },
    };
    const layout = sshProvider().layout({ workerBuildsDir: "/w/builds", workerCacheDir: "/w/cache", runner });
    expect(layout).toMatchObject({
      buildsDir: "/home/deploy/builds",
      cacheDir: "/home/deploy/cache",
      sharedBuildsDir: true,
    });
    expect(layout.locksDir.startsWith("/w/builds/ssh-slots/")).toBe(true);
  });

  test("a stage's environment is exported before the shell starts, quoted", () => {
    expect(stageCommand("bash", { A: "it's" })).toContain(`export A='it'"'"'s'; exec bash -l`);
  });
});

describe.skipIf(missing !== undefined)(`ssh executor on a real sshd (needs sshd: ${missing ?? "ok"})`, () => {
  let sshd: Sshd;
  const connector = new SshConnector();
  const executor = (o: { gracefulKillTimeoutMs?: number } = {}) =>
    new SshExecutor({
      connector,
      runnerName: "ssh-test",
      target: {
        host: sshd.host,
        port: sshd.port,
        user: sshd.user,
        identityFile: sshd.identityFile,
        strictHostKeyChecking: true,
        knownHostsFile: sshd.knownHostsFile,
      },
      ...o,
    });
  const prepared = async (o: { gracefulKillTimeoutMs?: number } = {}) => {
    const e = executor(o);
    await e.prepare({
      buildsDir: `/home/${sshd.user}/builds`,
      projectDir: `/home/${sshd.user}/builds/p`,
      shell: "bash",
      log: () => {},
      signal: never,
      jobId: 1,
    });
    return e;
  };

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await connector.close();
    await sshd?.stop();
  });

  test("builds_dir and cache_dir go under the login directory the host reports, not /home/<user>", async () => {
    const user = "runmesh-ssh-home";
    const home = "/var/lib/runmesh-ssh-home";
    if (spawnSync("id", ["-u", user]).status !== 0)
      spawnSync("useradd", ["-m", "-d", home, "-s", "/bin/bash", user]);
    spawnSync("chpasswd", [], { input: `${user}:${sshd.password}\n` });
    spawnSync("rm", ["-f", `${home}/.bash_logout`]);
    const target = { host: sshd.host, port: sshd.port, user, password: sshd.password };
    const e = new SshExecutor({
      connector,
      runnerName: "ssh-test",
      target: { ...target, strictHostKeyChecking: true, knownHostsFile: sshd.knownHostsFile },
      buildsDir: "b",
      cacheDir: "~/c",
    });
    expect(await e.configure()).toEqual({ buildsDir: `${home}/b`, cacheDir: `${home}/c` });
    // What the provider assumes until the host is asked.
    const assumed = sshProvider().layout({
      workerBuildsDir: "/w/builds",
      workerCacheDir: "/w/cache",
      runner: {
        ssh: { user, host: sshd.host, port: String(sshd.port), disable_strict_host_key_checking: true },
      },
    });
    expect(assumed.buildsDir).toBe(`/home/${user}/builds`);
  });

  test("an unreachable host leaves the layout to prepare, which names the failure", async () => {
    const e = new SshExecutor({
      connector,
      runnerName: "ssh-test",
      target: {
        host: "127.0.0.1",
        port: 1,
        user: "nobody",
        strictHostKeyChecking: false,
        connectTimeoutMs: 2000,
      },
    });
    expect(await e.configure()).toBeUndefined();
  });

  test("prepare creates builds_dir on the host and says so", async () => {
    const lines: string[] = [];
    const dir = `/home/${sshd.user}/nested-${process.pid}/builds`;
    await executor().prepare({
      buildsDir: dir,
      projectDir: `${dir}/p`,
      shell: "bash",
      log: (l) => lines.push(l),
      signal: never,
      jobId: 1,
    });
    expect(spawnSync("test", ["-d", dir]).status).toBe(0);
    expect(spawnSync("stat", ["-c", "%U", dir], { encoding: "utf8" }).stdout.trim()).toBe(sshd.user);
    expect(lines).toEqual(["Using SSH executor..."]);
    spawnSync("rm", ["-rf", `/home/${sshd.user}/nested-${process.pid}`]);
  });

  test("a builds_dir the user cannot write is a configuration error naming it", async () => {
    const err = await executor()
      .prepare({
        buildsDir: "/root/forbidden",
        projectDir: "/root/forbidden/p",
        shell: "bash",
        log: () => {},
        signal: never,
        jobId: 1,
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ExecutorError);
    expect(err.failureReason).toBe("runner_configuration_error");
    expect(err.message).toContain("/root/forbidden");
  });

  test("runs the stage as the ssh user, streams stdout and stderr, keeps the exit code", async () => {
    const e = await prepared();
    const out = collect();
    const r = await e.run(
      {
        stage: "step_script",
        kind: "user",
        script: 'id -un; echo "$EXTRA"; echo err >&2; exit 5\n',
        shell: "bash",
        env: { EXTRA: "x y" },
      },
      out.io,
      never,
    );
    expect(r).toEqual({ exitCode: 5, aborted: false });
    expect(out.text("stdout")).toBe(`${sshd.user}\nx y\n`);
    expect(out.text("stderr")).toBe("err\n");
  });

  test("output arrives while the remote script still runs", async () => {
    const e = await prepared({ gracefulKillTimeoutMs: 5_000 });
    const out = collect();
    const abort = new AbortController();
    const r = await e.run(
      { stage: "s", kind: "user", script: "echo first; sleep 30; echo never\n", shell: "bash" },
      {
        onOutput: (c, s) => {
          out.io.onOutput(c, s);
          if (out.text("stdout").includes("first")) abort.abort();
        },
      },
      abort.signal,
    );
    expect(r.aborted).toBe(true);
    expect(out.text("stdout")).toBe("first\n");
  });

  test("a cancel kills the remote process tree, background children included", async () => {
    const e = await prepared({ gracefulKillTimeoutMs: 5_000 });
    const marker = `runmesh-ssh-cancel-${process.pid}`;
    const abort = new AbortController();
    const out = collect();
    const r = await e.run(
      {
        stage: "step_script",
        kind: "user",
        // A child in the background and a grandchild: both must go with the stage.
        script: `(sleep 300; echo ${marker}) & bash -c 'sleep 301; echo ${marker}' & echo started; wait\n`,
        shell: "bash",
      },
      {
        onOutput: (c, s) => {
          out.io.onOutput(c, s);
          if (out.text("stdout").includes("started")) abort.abort();
        },
      },
      abort.signal,
    );
    expect(r.aborted).toBe(true);
    // Processes of the user that are still sleeping: none once the group was killed.
    let left = "";
    for (let i = 0; i < 50; i++) {
      left = spawnSync("pgrep", ["-u", sshd.user, "-a", "sleep"], { encoding: "utf8" }).stdout;
      if (!/sleep 30[01]/.test(left)) break;
      await Bun.sleep(100);
    }
    expect(left).not.toMatch(/sleep 30[01]/);
  });

  test("background processes do not outlive a stage that ended by itself", async () => {
    const e = await prepared();
    const r = await e.run(
      { stage: "s", kind: "user", script: "sleep 302 >/dev/null 2>&1 &\necho done\n", shell: "bash" },
      collect().io,
      never,
    );
    expect(r.exitCode).toBe(0);
    let left = "";
    for (let i = 0; i < 50; i++) {
      left = spawnSync("pgrep", ["-u", sshd.user, "-a", "sleep"], { encoding: "utf8" }).stdout;
      if (!left.includes("sleep 302")) break;
      await Bun.sleep(100);
    }
    expect(left).not.toContain("sleep 302");
  });

  test("a changed host key fails prepare as a system failure, nothing run on the host", async () => {
    const e = new SshExecutor({
      connector: new SshConnector(),
      runnerName: "ssh-test",
      target: {
        host: sshd.host,
        port: sshd.port,
        user: sshd.user,
        identityFile: sshd.identityFile,
        strictHostKeyChecking: true,
        knownHostsFile: sshd.wrongKnownHostsFile,
      },
    });
    const dir = `/home/${sshd.user}/never-${process.pid}`;
    const err = await e
      .prepare({
        buildsDir: dir,
        projectDir: `${dir}/p`,
        shell: "bash",
        log: () => {},
        signal: never,
        jobId: 1,
      })
      .catch((x) => x);
    expect(err).toBeInstanceOf(ExecutorError);
    expect(err.failureReason).toBe("runner_system_failure");
    expect(err.message).toContain("does not match the one in known_hosts");
    expect(spawnSync("test", ["-e", dir]).status).not.toBe(0);
  });

  test("an unreachable host is a system failure naming the runner and the target", async () => {
    const e = new SshExecutor({
      connector: new SshConnector(),
      runnerName: "ssh-test",
      target: { host: "127.0.0.1", port: 1, user: "u", strictHostKeyChecking: false },
    });
    const err = await e
      .prepare({ buildsDir: "/b", projectDir: "/b/p", shell: "bash", log: () => {}, signal: never, jobId: 1 })
      .catch((x) => x);
    expect(err).toBeInstanceOf(ExecutorError);
    expect(err.failureReason).toBe("runner_system_failure");
    expect(err.message).toContain('runner "ssh-test": [runners.ssh] u@127.0.0.1:1');
  });
});
