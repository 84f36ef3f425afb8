// The SSH connector against a real OpenSSH sshd on a loopback port (tests/infra/sshd.ts):
// key and password authentication, GitLab's strict host key checking, one connection per target,
// keepalives that drop a connection whose peer went quiet (through a relay that stops forwarding).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Sshd, sshdMissing, startSshd } from "../../tests/infra/sshd.ts";
import { SessionSlots, SshConnectError, SshConnector, type SshTarget } from "./connector.ts";

const missing = sshdMissing();

describe("session slots", () => {
  /** Takes slots in order; which of them were granted before any release. */
  async function granted(max: number, asks: boolean[]): Promise<number[]> {
    const slots = new SessionSlots(max);
    const got: number[] = [];
    asks.forEach((control, i) => void slots.acquire(control).then(() => got.push(i)));
    await Bun.sleep(0);
    return got;
  }

  test.each([
    [3, [false, false, false, false], [0, 1]],
    [3, [false, false, false, true], [0, 1, 3]],
    [3, [true, true, true, true], [0, 1, 2]],
    [1, [false, false], [0]],
  ])("max %p, control asks %p: %p granted at once", async (max, asks, want) => {
    expect(await granted(max, asks)).toEqual(want);
  });

  test("a release hands the slot to the first waiter that fits; a release counts once", async () => {
    const slots = new SessionSlots(2);
    const first = await slots.acquire(false);
    const order: string[] = [];
    let releaseControl = () => {};
    void slots.acquire(false).then(() => order.push("long"));
    void slots.acquire(true).then((r) => {
      order.push("control");
      releaseControl = r;
    });
    await Bun.sleep(0);
    expect([order, slots.inUse]).toEqual([["control"], 2]);
    first();
    first();
    await Bun.sleep(0);
    // The control command still holds the reserved slot: the long one keeps waiting.
    expect([order, slots.inUse]).toEqual([["control"], 1]);
    releaseControl();
    await Bun.sleep(0);
    expect([order, slots.inUse]).toEqual([["control", "long"], 1]);
  });
});

describe.skipIf(missing !== undefined)(`ssh connector (needs sshd: ${missing ?? "ok"})`, () => {
  let sshd: Sshd;
  const connector = new SshConnector();
  const target = (over: Partial<SshTarget> = {}): SshTarget => ({
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    strictHostKeyChecking: true,
    knownHostsFile: sshd.knownHostsFile,
    ...over,
  });

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await connector.close();
    await sshd?.stop();
  });

  test("authenticates with the identity file and runs a command as the user", async () => {
    const c = await connector.connect(target({ identityFile: sshd.identityFile }));
    const r = await c.output("id -un; exit 7");
    expect(r.stdout.trim()).toBe(sshd.user);
    expect(r.code).toBe(7);
  });

  test("authenticates with the password alone", async () => {
    const c = await new SshConnector().connect(target({ password: sshd.password }));
    expect((await c.output("id -un")).stdout.trim()).toBe(sshd.user);
    c.close();
  });

  test("a wrong password is refused with the target named", async () => {
    const err = await new SshConnector().connect(target({ password: "nope" })).catch((e) => e);
    expect(err).toBeInstanceOf(SshConnectError);
    expect(String(err.message)).toContain(`${sshd.user}@127.0.0.1:${sshd.port}`);
  });

  test("a changed host key is refused when strict checking is on", async () => {
    const err = await new SshConnector()
      .connect(target({ password: sshd.password, knownHostsFile: sshd.wrongKnownHostsFile }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(SshConnectError);
    expect(String(err.message)).toContain("does not match");
  });

  test("an unknown host is refused when strict checking is on (no trust on first use)", async () => {
    const { writeFile } = await import("node:fs/promises");
    const empty = `${sshd.dir}/empty_known_hosts`;
    await writeFile(empty, "");
    const err = await new SshConnector()
      .connect(target({ password: sshd.password, knownHostsFile: empty }))
      .catch((e) => e);
    expect(String(err.message)).toContain("is not in known_hosts");
  });

  test("disable_strict_host_key_checking accepts any host key", async () => {
    const c = await new SshConnector().connect(
      target({
        password: sshd.password,
        knownHostsFile: sshd.wrongKnownHostsFile,
        strictHostKeyChecking: false,
      }),
    );
    expect((await c.output("echo ok")).stdout.trim()).toBe("ok");
    c.close();
  });

  test("a server that never answers the handshake fails after the connect timeout", async () => {
    const { createServer } = await import("node:net");
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const err = await new SshConnector()
      .connect(target({ port, password: "x", strictHostKeyChecking: false, connectTimeoutMs: 300 }))
      .catch((e) => e);
    silent.close();
    expect(err).toBeInstanceOf(SshConnectError);
    expect(String(err.message)).toMatch(/timed out/i);
  });

  test("a lost connection leaves the pool: the next connect dials again", async () => {
    const pool = new SshConnector();
    const t = target({ identityFile: sshd.identityFile });
    const first = await pool.connect(t);
    first.close();
    for (let i = 0; i < 50 && first.isOpen; i++) await Bun.sleep(20);
    const second = await pool.connect(t);
    expect(second).not.toBe(first);
    expect((await second.output("echo again")).stdout.trim()).toBe("again");
    await pool.close();
  });

  test("keepalives drop a connection whose peer stops answering: the running command fails, the pool forgets it", async () => {
    const relay = await freezableRelay(sshd.port);
    const pool = new SshConnector();
    try {
      const c = await pool.connect(
        target({
          port: relay.port,
          password: sshd.password,
          strictHostKeyChecking: false,
          keepaliveIntervalMs: 200,
        }),
      );
      // Answered keepalives keep an idle connection: more than keepaliveCountMax intervals pass.
      await Bun.sleep(1200);
      expect([c.isOpen, (await c.output("echo alive")).stdout.trim()]).toEqual([true, "alive"]);
      const running = c.exec("sleep 600").then(
        () => "finished",
        (e: Error) => e,
      );
      await Bun.sleep(200);
      relay.freeze();
      const outcome = await running;
      expect(outcome).toBeInstanceOf(SshConnectError);
      expect(String((outcome as Error).message)).toContain("the connection was lost while a command ran");
      expect([c.isOpen, pool.size]).toEqual([false, 0]);
    } finally {
      await pool.close();
      relay.close();
    }
  }, 20_000);

  test("channels past maxSessions wait for a free one instead of failing; a control command passes long ones", async () => {
    const pool = new SshConnector();
    const c = await pool.connect(target({ identityFile: sshd.identityFile, maxSessions: 3 }));
    const file = `/tmp/runmesh-ssh-slots-${process.pid}`;
    const long = Array.from({ length: 6 }, () => c.output(`echo + >> ${file}; sleep 0.3; echo - >> ${file}`));
    const control = await c.exec("true", {}, undefined, { control: true });
    const pending = await Promise.race([
      Promise.all(long).then(() => "all done"),
      Bun.sleep(0).then(() => "pending"),
    ]);
    expect([control.code, pending]).toEqual([0, "pending"]);
    expect((await Promise.all(long)).map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0]);
    const marks = (await c.output(`cat ${file}; rm -f ${file}`)).stdout.split("\n").filter(Boolean);
    let open = 0;
    let most = 0;
    for (const m of marks) {
      open += m === "+" ? 1 : -1;
      most = Math.max(most, open);
    }
    // Two long commands at most at once: 3 sessions, one kept for control commands.
    expect([marks.length, most]).toEqual([12, 2]);
    await pool.close();
  });

  test("one connection per target, commands on concurrent channels of it", async () => {
    const pool = new SshConnector();
    const t = target({ identityFile: sshd.identityFile });
    const conns = await Promise.all([pool.connect(t), pool.connect(t), pool.connect(t)]);
    expect(new Set(conns).size).toBe(1);
    expect(pool.size).toBe(1);
    // Three commands that each wait for a file the next one creates: only concurrent channels finish.
    const dir = `/tmp/runmesh-ssh-chan-${process.pid}`;
    const outs = await Promise.all([
      conns[0]!.output(`mkdir -p ${dir}; while [ ! -e ${dir}/b ]; do sleep 0.05; done; echo a`),
      conns[1]!.output(
        `mkdir -p ${dir}; touch ${dir}/b; while [ ! -e ${dir}/c ]; do sleep 0.05; done; echo b`,
      ),
      conns[2]!.output(`mkdir -p ${dir}; touch ${dir}/c; echo c`),
    ]);
    expect(outs.map((o) => o.stdout.trim())).toEqual(["a", "b", "c"]);
    await conns[0]!.output(`rm -rf ${dir}`);
    await pool.close();
  });
});

/** A TCP relay to the sshd that, once frozen, silently drops every byte both ways: a peer gone quiet. */
async function freezableRelay(port: number): Promise<{ port: number; freeze(): void; close(): void }> {
  const { createServer, connect } = await import("node:net");
  let frozen = false;
  const sockets: import("node:net").Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    sockets.push(client, upstream);
    client.on("data", (d) => frozen || upstream.write(d));
    upstream.on("data", (d) => frozen || client.write(d));
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on("error", () => {});
      a.on("close", () => b.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    freeze: () => {
      frozen = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
