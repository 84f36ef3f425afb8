// The SSH connector: one multiplexed connection per target (host, port, user, credentials), a
// channel per command, as GitLab Runner's helpers/ssh does for its ssh executor and as the
// autoscaler's instance executors will use it. Authentication as GitLab's: the password always
// offered, the identity file's key when set (unencrypted); host keys checked against
// known_hosts (default ~/.ssh/known_hosts) unless disable_strict_host_key_checking. A connection
// lost (keepalive timeout, server gone) leaves the pool, so the next command reconnects.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import type { Client, ClientChannel, ConnectConfig } from "ssh2";
import { checkHostKey } from "./known-hosts.ts";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  identityFile?: string;
  /** Checks the host key against known_hosts (GitLab: unless disable_strict_host_key_checking). */
  strictHostKeyChecking: boolean;
  /** Default `~/.ssh/known_hosts` of the worker's user. */
  knownHostsFile?: string;
  /** Keepalive interval; the connection is dropped after 3 unanswered. Default 30 s. */
  keepaliveIntervalMs?: number;
  /** Handshake and authentication deadline. Default 60 s. */
  connectTimeoutMs?: number;
  /** Channels open at once on the connection: the host's sshd MaxSessions. Default 10 (OpenSSH's). */
  maxSessions?: number;
}

/** A connection could not be made or was lost: not the script's fault. */
export class SshConnectError extends Error {
  constructor(
    readonly target: string,
    message: string,
  ) {
    super(`ssh ${target}: ${message}`);
    this.name = "SshConnectError";
  }
}

export interface CommandIO {
  onStdout?(chunk: Uint8Array): void;
  onStderr?(chunk: Uint8Array): void;
}

export interface CommandResult {
  /** The remote exit status; -1 when the command ended on a signal or the channel closed without one. */
  code: number;
  signal?: string;
}

/**
 * The session channels of one connection, shared by every job of the worker on that host: sshd
 * refuses channels beyond its MaxSessions (OpenSSH's default 10), so opens past the limit wait
 * for one to close instead of failing. One slot stays free of long commands (stages,
 * transfers) for control commands, so a cancel's `kill` never waits behind the stages it stops.
 */
export class SessionSlots {
  private used = 0;
  private readonly waiting: { control: boolean; go: () => void }[] = [];

  constructor(readonly max: number) {}

  /** Resolves with the slot's release once one is free; `control`: a short command (kill, pwd). */
  acquire(control: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push({ control, go: () => resolve(this.releaser()) });
      this.pump();
    });
  }

  /** Channels open now (a test and a gauge read it). */
  get inUse(): number {
    return this.used;
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      if (this.used < (w.control ? this.max : Math.max(1, this.max - 1))) {
        this.waiting.splice(i, 1);
        this.used += 1;
        w.go();
      } else i += 1;
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= 1;
      this.pump();
    };
  }
}

export interface ChannelOptions {
  /** A short command that must not wait behind long ones (a cancel's kill). */
  control?: boolean;
}

/** One connection: commands run on channels of it, concurrently, within its session slots. */
export class SshConnection {
  private closed = false;
  readonly slots: SessionSlots;

  constructor(
    readonly label: string,
    private readonly client: Client,
    onClose: () => void,
    maxSessions = 10,
  ) {
    this.slots = new SessionSlots(maxSessions);
    client.on("close", () => {
      this.closed = true;
      onClose();
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /**
   * A new channel running `command`, in a session slot released when the channel closes. `setup`
   * runs as soon as the channel exists, before any event of it can be missed (`exit` is no stream
   * event: a listener added a tick later never hears it).
   */
  private async channel<T>(command: string, o: ChannelOptions, setup: (ch: ClientChannel) => T): Promise<T> {
    const release = await this.slots.acquire(o.control ?? false);
    return new Promise((resolve, reject) => {
      if (this.closed) {
        release();
        reject(new SshConnectError(this.label, "the connection is closed"));
        return;
      }
      this.client.exec(command, (err: Error | undefined, channel: ClientChannel) => {
        if (err) {
          release();
          reject(new SshConnectError(this.label, `opening a channel: ${err.message}`));
          return;
        }
        channel.once("close", release);
        resolve(setup(channel));
      });
    });
  }

  /** The command's outcome once `channel` closes; a lost connection rejects. */
  private outcome(channel: ClientChannel): Promise<CommandResult> {
    let exit: CommandResult = { code: -1 };
    channel.on("exit", (code: number | null, signal?: string) => {
      exit = code === null || code === undefined ? { code: -1, signal } : { code };
    });
    return new Promise((done, fail) =>
      channel.on("close", () => {
        if (this.closed && exit.code === -1 && exit.signal === undefined)
          fail(new SshConnectError(this.label, "the connection was lost while a command ran"));
        else done(exit);
      }),
    );
  }

  /** Runs `command` on a new channel, `stdin` fed then closed; resolves when the channel closes. */
  async exec(
    command: string,
    io: CommandIO = {},
    stdin?: string | Uint8Array,
    o: ChannelOptions = {},
  ): Promise<CommandResult> {
    const result = await this.channel(command, o, (channel) => {
      const result = this.outcome(channel);
      channel.on("data", (c: Buffer) => io.onStdout?.(c));
      channel.stderr.on("data", (c: Buffer) => io.onStderr?.(c));
      channel.end(stdin);
      return { result };
    });
    return result.result;
  }

  /**
   * Runs `command` on a new channel and hands back its streams, for transfers that must not be
   * buffered (tar over the channel, with the channel's flow control): write `stdin` and end it,
   * read `stdout`; `result` settles when the channel closes.
   */
  open(
    command: string,
  ): Promise<{ stdin: Writable; stdout: Readable; stderr: Readable; result: Promise<CommandResult> }> {
    return this.channel(command, {}, (channel) => {
      const result = this.outcome(channel);
      result.catch(() => {});
      return { stdin: channel, stdout: channel, stderr: channel.stderr, result };
    });
  }

  /** Runs a command and collects its stdout (small outputs: paths, pids). */
  async output(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    const r = await this.exec(command, { onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) });
    return {
      code: r.code,
      stdout: Buffer.concat(out).toString("utf8"),
      stderr: Buffer.concat(err).toString("utf8"),
    };
  }

  close(): void {
    this.client.end();
  }
}

export function targetLabel(t: SshTarget): string {
  return `${t.user}@${t.host}:${t.port}`;
}

/** A pool of connections, one per target, shared by every job that goes there. */
export class SshConnector {
  private readonly pool = new Map<string, Promise<SshConnection>>();

  /** The open connection to `target`, or a new one. */
  connect(target: SshTarget): Promise<SshConnection> {
    const key = JSON.stringify([
      target.host,
      target.port,
      target.user,
      target.password ?? "",
      target.identityFile ?? "",
      target.strictHostKeyChecking,
      target.knownHostsFile ?? "",
    ]);
    const pooled = this.pool.get(key);
    if (pooled) return pooled;
    const made = dial(target, () => {
      if (this.pool.get(key) === made) this.pool.delete(key);
    });
    this.pool.set(key, made);
    made.catch(() => {
      if (this.pool.get(key) === made) this.pool.delete(key);
    });
    return made;
  }

  /** How many connections are open or opening. */
  get size(): number {
    return this.pool.size;
  }

  async close(): Promise<void> {
    const all = [...this.pool.values()];
    this.pool.clear();
    for (const c of await Promise.allSettled(all)) if (c.status === "fulfilled") c.value.close();
  }
}

let sshModule: Promise<typeof import("ssh2")> | undefined;

/** A fresh connection, not pooled (what a connector does per target; benchmarks use it alone). */
export async function dial(target: SshTarget, onClose: () => void = () => {}): Promise<SshConnection> {
  const label = targetLabel(target);
  // ssh2 is loaded with the first SSH job: every worker links this executor, few use it, and
  // loading ssh2 costs about 20 MB of idle RSS (reference/ecosystem.md).
  sshModule ??= import("ssh2");
  const { Client } = await sshModule;
  return new Promise((resolve, reject) => {
    let config: ConnectConfig;
    let hostKeyError: string | undefined;
    try {
      config = connectConfig(target, (message) => {
        hostKeyError = message;
      });
    } catch (error) {
      reject(new SshConnectError(label, (error as Error).message));
      return;
    }
    const client = new Client();
    let ready = false;
    client.once("ready", () => {
      ready = true;
      resolve(new SshConnection(label, client, onClose, target.maxSessions));
    });
    client.on("error", (error: Error) => {
      if (ready) return; // the connection's "close" follows and takes it out of the pool
      client.end();
      reject(new SshConnectError(label, hostKeyError ?? error.message));
    });
    client.connect(config);
  });
}

function connectConfig(t: SshTarget, onHostKeyError: (message: string) => void): ConnectConfig {
  const config: ConnectConfig = {
    host: t.host,
    port: t.port,
    username: t.user,
    // GitLab offers the password always, an empty one included.
    password: t.password ?? "",
    readyTimeout: t.connectTimeoutMs ?? 60_000,
    keepaliveInterval: t.keepaliveIntervalMs ?? 30_000,
    keepaliveCountMax: 3,
  };
  if (t.identityFile) {
    try {
      config.privateKey = readFileSync(t.identityFile);
    } catch (error) {
      throw new Error(
        `[runners.ssh] identity_file: cannot read ${t.identityFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }
  if (t.strictHostKeyChecking) {
    const file = t.knownHostsFile || join(homedir(), ".ssh", "known_hosts");
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new Error(
        `[runners.ssh] known_hosts_file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); add the host's key to it (ssh-keyscan -p ${t.port} ${t.host} >> ${file}) or set disable_strict_host_key_checking = true`,
      );
    }
    config.hostVerifier = (key: Buffer) => {
      const verdict = checkHostKey(text, t.host, t.port, key);
      if (verdict.ok) return true;
      onHostKeyError(
        `host key refused: ${verdict.message} (${file}); strict host key checking is on ([runners.ssh] disable_strict_host_key_checking = false)`,
      );
      return false;
    };
  }
  return config;
}
