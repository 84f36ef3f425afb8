// The docker executor's project dir as seen by the worker's cache and artifact stages
// (../workspace-transfer.ts). It lives in the job's builds volume; the job's sandbox container
// (helper image, running for the whole job) mounts that volume too. Listing and `git ls-files`
// run there through exec; files move through the Engine API's archive endpoints: GET
// /containers/{id}/archive per selected root and PUT /containers/{id}/archive of one tar into
// the project dir, both streamed. GitLab Runner instead runs `gitlab-runner-helper
// artifacts-uploader` / `cache-archiver` inside a helper container; runmesh's helper image needs
// only GNU find, tar and git, and the uploads leave from the worker.
import { join, posix } from "node:path";
import type { Readable } from "node:stream";
import { PassThrough } from "node:stream";
import { extractTar, listCommand, parseListing, type RemoteProjectDir } from "../workspace-transfer.ts";
import type { Engine } from "./engine.ts";

export class DockerProjectDir implements RemoteProjectDir {
  constructor(
    private readonly engine: Engine,
    /** A running container that mounts the builds volume at the same path as the job's. */
    private readonly containerId: string,
    readonly projectDir: string,
    /** Names the runner and job in errors. */
    private readonly where: string,
  ) {}

  /** Runs `cmd` in the container (working dir: the project dir); its stdout, or an error. */
  private async exec(what: string, cmd: string[], signal: AbortSignal): Promise<string> {
    const exec = await this.engine.getContainer(this.containerId).exec({
      Cmd: cmd,
      WorkingDir: this.projectDir,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await exec.start({ hijack: true, stdin: false, abortSignal: signal })) as Readable;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const stdout = new PassThrough().on("data", (c: Buffer) => out.push(c));
    const stderr = new PassThrough().on("data", (c: Buffer) => err.push(c));
    this.engine.modem.demuxStream(stream, stdout, stderr);
    await new Promise<void>((resolve, reject) => {
      stream.once("end", resolve);
      stream.once("close", resolve);
      stream.once("error", reject);
    });
    const { ExitCode } = await exec.inspect();
    if (ExitCode !== 0)
      throw new Error(
        `${this.where}: ${what} in ${this.projectDir} exited ${ExitCode}: ${Buffer.concat(err).toString().trim()}`,
      );
    return Buffer.concat(out).toString("utf8");
  }

  async list(roots: readonly string[], signal: AbortSignal) {
    const out = await this.exec("listing", listCommand(roots), signal);
    return parseListing(out);
  }

  async untracked(signal: AbortSignal): Promise<string[]> {
    const out = await this.exec(
      "git ls-files -o",
      ["sh", "-c", "git ls-files -o -z 2>/dev/null || true"],
      signal,
    );
    return out.split("\0").filter((p) => p !== "");
  }

  async fetch(roots: readonly string[], localDir: string, signal: AbortSignal): Promise<void> {
    const container = this.engine.getContainer(this.containerId);
    for (const root of roots) {
      // The archive of `a/b` holds `b/...`: it is extracted where `a` is in the copy.
      const tar = (await container.getArchive({ path: posix.join(this.projectDir, root) })) as Readable;
      await extractTar(tar, join(localDir, posix.dirname(root)), signal);
    }
  }

  async push(tar: Readable): Promise<void> {
    await this.engine
      .getContainer(this.containerId)
      .putArchive(tar, { path: this.projectDir, noOverwriteDirNonDir: "true" });
  }
}
