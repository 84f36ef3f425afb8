// GitLab Runner's config reload: the file's mtime is checked every 3 s and SIGHUP forces a
// reload. A file that fails to load is reported once and its mtime remembered, so the same
// broken file is not retried; the running config stays in force.
import { stat } from "node:fs/promises";
import type { Logger } from "../log/logger.ts";
import { type Config, loadConfig } from "./index.ts";

export const CONFIG_CHECK_INTERVAL_MS = 3000;

export interface ConfigWatch {
  /** Reloads now (what SIGHUP does). */
  reload(): Promise<void>;
  stop(): void;
}

export function watchConfig(
  path: string,
  onReload: (config: Config) => Promise<void> | void,
  logger: Logger,
  intervalMs = CONFIG_CHECK_INTERVAL_MS,
): Promise<ConfigWatch> {
  const load = async (p: string) => {
    const { config, warnings } = await loadConfig(p);
    return { value: config, warnings };
  };
  return watchConfigFile(path, load, onReload, logger, intervalMs);
}

/** The same watch with a tier's own reading of the file (the cache-signer's allowlist). */
export async function watchConfigFile<T>(
  path: string,
  load: (path: string) => Promise<{ value: T; warnings: string[] }>,
  onReload: (value: T) => Promise<void> | void,
  logger: Logger,
  intervalMs = CONFIG_CHECK_INTERVAL_MS,
): Promise<ConfigWatch> {
  const mtimeOf = async () => (await stat(path).catch(() => undefined))?.mtimeMs;
  let seen = await mtimeOf();
  let busy: Promise<void> | undefined;
  const reread = async (mtime: number | undefined, why: string) => {
    seen = mtime;
    try {
      const { value, warnings } = await load(path);
      for (const w of warnings) logger.warn(w);
      await onReload(value);
      logger.info({ why }, "configuration reloaded");
    } catch (e) {
      logger.error(
        { why, err: (e as Error).message },
        "configuration not reloaded; the running one stays in force",
      );
    }
  };
  const run = (why: string, mtime?: number) => {
    busy ??= (async () => reread(mtime ?? (await mtimeOf()), why))().finally(() => {
      busy = undefined;
    });
    return busy;
  };
  const timer = setInterval(async () => {
    const mtime = await mtimeOf();
    if (mtime !== undefined && mtime !== seen) await run("file changed", mtime);
  }, intervalMs);
  const onHup = () => void run("SIGHUP");
  process.on("SIGHUP", onHup);
  return {
    reload: () => run("requested"),
    stop() {
      clearInterval(timer);
      process.off("SIGHUP", onHup);
    },
  };
}
