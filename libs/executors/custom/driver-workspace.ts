// The custom executor's project dir as the worker's cache and artifact stages see it
// (../workspace-transfer.ts): listings, `git ls-files -o`, tar streams out and in, each one
// transfer script (transfer-scripts.ts) run through the driver's run_exec like any stage. What
// comes back is decoded as it arrives and extracted by the worker's tar; what goes out is
// encoded into the script file as the tar is packed, never held whole in memory.
import { open } from "node:fs/promises";
import { PassThrough, type Readable } from "node:stream";
import { extractTar, parseListing, type RemoteEntry, type RemoteProjectDir } from "../workspace-transfer.ts";
import {
  Base64Lines,
  FrameReader,
  fetchScript,
  listScript,
  pushScript,
  TRANSFER_STAGES,
  untrackedScript,
} from "./transfer-scripts.ts";

/** What the executor offers: one run_exec call of a script it lets `write` fill. */
export interface DriverScriptRunner {
  /**
   * Writes the script with `write(path)`, runs it through run_exec as `stage`, streams its stdout
   * to `onStdout`. Rejects (naming the runner, run_exec and the stage) unless the driver exits 0.
   */
  runScript(
    stage: string,
    write: (path: string) => Promise<void>,
    onStdout: (chunk: Uint8Array) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

export class DriverProjectDir implements RemoteProjectDir {
  constructor(
    private readonly driver: DriverScriptRunner,
    readonly projectDir: string,
    /** Names the runner and run_exec in errors: `runner "x": [runners.custom] run_exec`. */
    private readonly where: string,
  ) {}

  /** Runs a framed script and returns its decoded output; the body's exit code must be 0. */
  private async framed(
    stage: string,
    script: (marker: string) => string,
    signal: AbortSignal,
  ): Promise<Buffer> {
    const data: Buffer[] = [];
    const marker = newMarker();
    const reader = new FrameReader(marker, (b) => data.push(b));
    await this.driver.runScript(
      stage,
      (path) => Bun.write(path, script(marker)).then(() => {}),
      (c) => reader.write(c),
      signal,
    );
    this.check(stage, reader.end());
    return Buffer.concat(data);
  }

  private check(stage: string, end: ReturnType<FrameReader["end"]>): void {
    const where = `${this.where} for stage ${stage}`;
    if (end.exitCode === undefined)
      throw new Error(
        `${where} exited 0 without running the transfer script (no end marker on its stdout): the driver must run the script of every stage, ${stage} included`,
      );
    if (end.corrupt) throw new Error(`${where}: its stdout held ${end.corrupt} between the transfer markers`);
    if (end.exitCode !== 0)
      throw new Error(`${where}: the transfer in ${this.projectDir} exited ${end.exitCode}`);
  }

  async list(roots: readonly string[], signal: AbortSignal): Promise<RemoteEntry[]> {
    const out = await this.framed(TRANSFER_STAGES.list, (m) => listScript(this.projectDir, m, roots), signal);
    return parseListing(out.toString("utf8"));
  }

  async untracked(signal: AbortSignal): Promise<string[]> {
    const out = await this.framed(
      TRANSFER_STAGES.untracked,
      (m) => untrackedScript(this.projectDir, m),
      signal,
    );
    return out
      .toString("utf8")
      .split("\0")
      .filter((p) => p !== "");
  }

  async fetch(roots: readonly string[], localDir: string, signal: AbortSignal): Promise<void> {
    const stage = TRANSFER_STAGES.fetch;
    const marker = newMarker();
    const tar = new PassThrough();
    const reader = new FrameReader(marker, (b) => tar.write(b));
    const extracted = extractTar(tar, localDir, signal);
    try {
      await this.driver.runScript(
        stage,
        (path) => Bun.write(path, fetchScript(this.projectDir, marker, roots)).then(() => {}),
        (c) => reader.write(c),
        signal,
      );
      this.check(stage, reader.end());
      tar.end();
    } catch (error) {
      tar.destroy(error as Error);
      await extracted.catch(() => {});
      throw error;
    }
    await extracted;
  }

  async push(tar: Readable, signal: AbortSignal): Promise<void> {
    const stage = TRANSFER_STAGES.push;
    const marker = newMarker();
    const { head, tail } = pushScript(this.projectDir, marker);
    const write = async (path: string) => {
      const file = await open(path, "w", 0o700);
      try {
        const lines = new Base64Lines();
        await file.write(head);
        for await (const chunk of tar) await file.write(lines.push(chunk as Uint8Array));
        await file.write(`${lines.end()}${tail}`);
      } finally {
        await file.close();
      }
    };
    const reader = new FrameReader(marker, () => {});
    await this.driver.runScript(stage, write, (c) => reader.write(c), signal);
    this.check(stage, reader.end());
  }
}

function newMarker(): string {
  return `RUNMESH_TRANSFER_${crypto.randomUUID().replaceAll("-", "")}`;
}
