// The ssh executor's project dir as seen by the worker's cache and artifact stages
// (../workspace-transfer.ts). GitLab Runner's ssh executor runs `gitlab-runner
// artifacts-uploader` / `cache-archiver` on the host, which must have gitlab-runner installed;
// runmesh needs only GNU find and tar there (git for `untracked`): it lists and tars on the host
// over channels of the job's one connection, and archives, uploads, downloads and extracts in
// the worker, streaming with the channel's flow control.
import type { Readable } from "node:stream";
import type { SshConnection } from "../../ssh/connector.ts";
import {
  extractTar,
  LIST_SCRIPT,
  parseListing,
  pipeInto,
  type RemoteProjectDir,
  rootArgs,
  TAR_CREATE_SCRIPT,
  TAR_EXTRACT_SCRIPT,
} from "../workspace-transfer.ts";
import { shellQuote } from "./ssh-executor.ts";

export class SshProjectDir implements RemoteProjectDir {
  constructor(
    private readonly connection: SshConnection,
    readonly projectDir: string,
    /** Names the host and runner in errors. */
    private readonly where: string,
  ) {}

  private async run(what: string, script: string, stdin?: string): Promise<string> {
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    const r = await this.connection.exec(
      `cd ${shellQuote(this.projectDir)} && ${script}`,
      { onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) },
      stdin,
    );
    if (r.code !== 0)
      throw new Error(
        `${this.where}: ${what} in ${this.projectDir} exited ${r.code}: ${Buffer.concat(err).toString().trim()}`,
      );
    return Buffer.concat(out).toString("utf8");
  }

  async list(roots: readonly string[]) {
    return parseListing(await this.run("listing", LIST_SCRIPT, nulList(roots)));
  }

  async untracked(): Promise<string[]> {
    const out = await this.run("git ls-files -o", "{ git ls-files -o -z 2>/dev/null || true; }");
    return out.split("\0").filter((p) => p !== "");
  }

  async fetch(roots: readonly string[], localDir: string, signal: AbortSignal): Promise<void> {
    const ch = await this.connection.open(`cd ${shellQuote(this.projectDir)} && ${TAR_CREATE_SCRIPT}`);
    const stderr = collect(ch.stderr);
    ch.stdin.end(nulList(roots));
    await extractTar(ch.stdout, localDir, signal);
    const r = await ch.result;
    if (r.code !== 0)
      throw new Error(`${this.where}: tar of ${this.projectDir} exited ${r.code}: ${stderr().trim()}`);
  }

  async push(tar: Readable): Promise<void> {
    const dir = shellQuote(this.projectDir);
    const ch = await this.connection.open(`mkdir -p ${dir} && cd ${dir} && ${TAR_EXTRACT_SCRIPT}`);
    const stderr = collect(ch.stderr);
    ch.stdout.resume();
    await pipeInto(tar, ch.stdin);
    const r = await ch.result;
    if (r.code !== 0)
      throw new Error(
        `${this.where}: extracting into ${this.projectDir} exited ${r.code}: ${stderr().trim()}`,
      );
  }
}

function nulList(roots: readonly string[]): string {
  return rootArgs(roots)
    .map((r) => `${r}\0`)
    .join("");
}

function collect(stream: Readable): () => string {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString("utf8");
}
