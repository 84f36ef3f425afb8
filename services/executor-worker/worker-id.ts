// A worker's id, the same across restarts, so whatever a worker sweeps on start (its job
// records, its builds locks) is only ever its own, and the scheduler recognises a restarted
// worker. `--id` or `[mesh] name` give it outright; otherwise it is persisted in the worker's
// data dir. Several workers may share one data dir (same host, default settings): each holds the
// lowest free numbered slot there by a lock file, so two live workers never share an id and a
// restarted one gets its own back.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { acquireLockSlot } from "../../libs/job/build-dir.ts";

export interface WorkerIdentity {
  id: string;
  /** Where the id came from, for the start-up log line. */
  source: "--id" | "[mesh] name" | string;
  /** Frees the data-dir slot at shutdown (a crashed worker's slot is reclaimed by pid). */
  release(): Promise<void>;
}

/** NATS subjects take no dots or spaces inside one token. */
export function subjectSafeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, "-");
}

export async function resolveWorkerId(o: {
  /** `--id` from the command line. */
  id?: string;
  /** `[mesh] name` when the config sets it (not the hostname default). */
  meshName?: string;
  dataDir: string;
  hostname?: string;
}): Promise<WorkerIdentity> {
  const none = async () => {};
  if (o.id) return { id: subjectSafeId(o.id), source: "--id", release: none };
  if (o.meshName) return { id: subjectSafeId(o.meshName), source: "[mesh] name", release: none };
  const dir = join(o.dataDir, "worker-ids");
  await mkdir(dir, { recursive: true });
  const slot = await acquireLockSlot(join(dir, "locks"));
  const file = join(dir, `${slot.slot}.id`);
  try {
    let id = (await readFile(file, "utf8").catch(() => "")).trim();
    if (id === "") {
      id = subjectSafeId(`${o.hostname ?? osHostname()}-${randomBytes(4).toString("hex")}`);
      // Written aside and renamed: a crash mid-write never leaves a half id behind.
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, `${id}\n`);
      await rename(tmp, file);
    }
    return { id, source: file, release: slot.release };
  } catch (e) {
    await slot.release();
    throw e;
  }
}
