// The instance executor against a real OpenSSH sshd (tests/infra/sshd.ts) standing in for an
// instance, and an autoscaler answering the acquire/release Rpcs on the in-process bus: the key
// the plugin hands out reaches the connector and leaves no file behind, stages run on the
// instance as the ConnectInfo's user, the slot is released at cleanup, also after an
// acquisition that timed out (so the autoscaler stops counting the job as waiting).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Sshd, sshdMissing, startSshd } from "../../../tests/infra/sshd.ts";
import { createInprocBus } from "../../bus/inproc-bus.ts";
import { autoscalerAcquireRpc, autoscalerReleaseRpc } from "../../messages/subjects.ts";
import { ExecutorError, type PrepareContext } from "../executor.ts";
import { InstanceExecutor } from "./instance-executor.ts";

const missing = sshdMissing();
const never = new AbortController().signal;
const dir = mkdtempSync(join(tmpdir(), "runmesh-instance-executor-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function context(lines: string[], buildsDir: string): PrepareContext {
  return {
    buildsDir,
    projectDir: join(buildsDir, "p"),
    shell: "bash",
    log: (l) => lines.push(l),
    signal: never,
    jobId: 7,
  };
}

describe.skipIf(missing !== undefined)(`instance executor on a real sshd (${missing ?? "ok"})`, () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  test("acquires, dials with the plugin's key, runs a stage as its user, releases at cleanup", async () => {
    const bus = createInprocBus();
    const calls: string[] = [];
    await bus.serve(autoscalerAcquireRpc("rk", "w1"), (m) => {
      calls.push(`acquire ${m.data.key}`);
      return calls.length === 1
        ? { acquired: false as const, reason: "creating", retryAfterMs: 1 }
        : {
            acquired: true as const,
            instanceId: "i-1",
            connectInfo: {
              id: "i-1",
              protocol: "ssh" as const,
              username: sshd.user,
              key: readFileSync(sshd.identityFile, "utf8"),
              internalAddr: `${sshd.host}:${sshd.port}`,
            },
          };
    });
    await bus.serve(autoscalerReleaseRpc("rk", "w1"), (m) => {
      calls.push(`release ${m.data.key}`);
      return { released: true };
    });
    const keyDir = join(dir, "keys-1");
    const e = new InstanceExecutor({
      bus,
      groupKey: "rk",
      acquisitionKey: "job-7",
      workerId: "w1",
      runnerName: "fleet",
      acquireTimeoutMs: 10_000,
      keyDir,
      acquireRetryMs: { min: 5, max: 20 },
    });
    const lines: string[] = [];
    await e.prepare(context(lines, `/home/${sshd.user}/builds-instance-test`));
    expect(lines).toEqual(["Preparing instance...", "Dialing instance i-1...", "Instance i-1 connected"]);
    // The key was written for the connector only while it dialled.
    expect(readdirSync(keyDir)).toEqual([]);
    let out = "";
    const r = await e.run(
      { stage: "step_script", kind: "user", script: "id -un\nexit 3\n", shell: "bash" },
      { onOutput: (c) => (out += new TextDecoder().decode(c)) },
      never,
    );
    expect({ code: r.exitCode, out: out.trim() }).toEqual({ code: 3, out: sshd.user });
    await e.cleanup();
    expect(calls).toEqual(["acquire job-7", "acquire job-7", "release job-7"]);
  });

  test("no slot within instance_acquire_timeout: a system failure naming the runner, and the waiting key released", async () => {
    const bus = createInprocBus();
    const released: string[] = [];
    await bus.serve(autoscalerAcquireRpc("rk", "w1"), () => ({
      acquired: false as const,
      reason: "max_instances reached",
      retryAfterMs: 1,
    }));
    await bus.serve(autoscalerReleaseRpc("rk", "w1"), (m) => {
      released.push(m.data.key);
      return { released: false };
    });
    const e = new InstanceExecutor({
      bus,
      groupKey: "rk",
      acquisitionKey: "job-8",
      workerId: "w1",
      runnerName: "fleet",
      acquireTimeoutMs: 100,
      keyDir: join(dir, "keys-2"),
      acquireRetryMs: { min: 5, max: 20 },
    });
    const err = await e.prepare(context([], "/tmp/x")).catch((x: Error) => x);
    expect(err).toBeInstanceOf(ExecutorError);
    expect((err as ExecutorError).failureReason).toBe("runner_system_failure");
    expect((err as Error).message).toContain(
      'runner "fleet": unable to acquire instance within the configured timeout',
    );
    expect((err as Error).message).toContain("max_instances reached");
    await e.cleanup();
    expect(released).toEqual(["job-8"]);
  });

  test("a worker started without a bus: a configuration error, not a hang", async () => {
    const e = new InstanceExecutor({
      runnerName: "fleet",
      acquireTimeoutMs: 100,
      keyDir: join(dir, "keys-3"),
    });
    const err = await e.prepare(context([], "/tmp/x")).catch((x: ExecutorError) => x);
    expect((err as ExecutorError).failureReason).toBe("runner_configuration_error");
    await e.cleanup();
  });
});
