// The runner's system ID, kept in .runner_system_id beside config.toml as GitLab Runner does. It
// tells GitLab which runner manager a request comes from (`system_id` in jobs/request), so every
// runmesh process sharing one config directory must present the same one.
//
// Format, as GitLab Runner's SystemIDState: "s_" + the first 12 hex digits of
// HMAC-SHA256(key: the machine ID, message: "gitlab-runner") when the machine has an ID,
// otherwise "r_" + 12 random letters and digits. A file is accepted if it matches ^[sr]_[0-9a-zA-Z]{12}$.
import { createHmac, randomInt } from "node:crypto";
import { link, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ConfigError } from "./config-error.ts";

export const SYSTEM_ID_FILE = ".runner_system_id";
const SYSTEM_ID = /^[sr]_[0-9a-zA-Z]{12}$/;
// github.com/denisbrodbeck/machineid reads these, in this order, on Linux.
const MACHINE_ID_FILES = ["/var/lib/dbus/machine-id", "/etc/machine-id"];

export interface SystemIdOptions {
  /** Where to look for the machine ID; [] forces a random ("r_") ID. */
  machineIdFiles?: readonly string[];
}

export function systemIdPath(configPath: string): string {
  return join(dirname(configPath), SYSTEM_ID_FILE);
}

/** Returns the system ID stored beside configPath, creating it once if there is none. */
export async function loadOrCreateSystemId(configPath: string, opts: SystemIdOptions = {}): Promise<string> {
  const path = systemIdPath(configPath);
  const existing = await readSystemId(path);
  if (existing !== undefined) return existing;

  const id = await generateSystemId(opts.machineIdFiles ?? MACHINE_ID_FILES);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Written whole under a private name, then linked into place: link() fails with EEXIST like
  // open(O_EXCL) does, but a racing reader can never see a half-written file.
  const temporary = `${path}.${process.pid}.${Date.now()}.${randomInt(1e9)}.tmp`;
  await writeFile(temporary, id, { mode: 0o600, flag: "wx" });
  try {
    await link(temporary, path);
    return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // Another process won the race: use its ID.
    const theirs = await readSystemId(path);
    if (theirs === undefined) throw error;
    return theirs;
  } finally {
    await rm(temporary, { force: true });
  }
}

async function readSystemId(path: string): Promise<string | undefined> {
  let contents: string;
  try {
    contents = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError([`${path}: cannot read the runner system ID (${(error as Error).message})`]);
  }
  const id = contents.trim();
  if (!SYSTEM_ID.test(id)) {
    throw new ConfigError([
      `${path}: malformed runner system ID ${JSON.stringify(id.slice(0, 40))}: expected "s_" or "r_" and 12 letters or digits (like "s_0123456789ab"); delete the file and a new ID is created`,
    ]);
  }
  return id;
}

async function generateSystemId(machineIdFiles: readonly string[]): Promise<string> {
  for (const file of machineIdFiles) {
    const machineId = await readFile(file, "utf8").then(
      (s) => s.trim(),
      () => "",
    );
    if (machineId !== "") {
      const mac = createHmac("sha256", machineId).update("gitlab-runner").digest("hex");
      return `s_${mac.slice(0, 12)}`;
    }
  }
  const charset = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  let id = "r_";
  for (let i = 0; i < 12; i++) id += charset[randomInt(charset.length)];
  return id;
}
