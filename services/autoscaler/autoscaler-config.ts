// config.toml as the autoscaler tier keeps it: GitLab Runner's reading of the file, then each
// runner entry's token cut to its short form at once. The autoscaler holds the cloud plugins'
// credentials (plugin_config) and nothing else: it never talks to GitLab, so a full runner token
// has no business in its memory. The entry's runnerKey (the group's name on the bus) was derived
// while reading and stays the poller's.
import { type ConfigWatch, watchConfigFile } from "../../libs/config/config-reload.ts";
import { type Config, loadConfig, type ParsedConfig, shortToken } from "../../libs/config/index.ts";
import type { Logger } from "../../libs/log/logger.ts";

export function withoutRunnerTokens(config: Config): Config {
  return { ...config, runners: config.runners.map((r) => ({ ...r, token: shortToken(r.token) })) };
}

export async function loadAutoscalerConfig(path: string): Promise<ParsedConfig> {
  const parsed = await loadConfig(path);
  return { ...parsed, config: withoutRunnerTokens(parsed.config) };
}

/** watchConfig with the autoscaler's reading: a reloaded file brings no full token either. */
export function watchAutoscalerConfig(
  path: string,
  onReload: (config: Config) => Promise<void> | void,
  logger: Logger,
  intervalMs?: number,
): Promise<ConfigWatch> {
  const load = async (p: string) => {
    const { config, warnings } = await loadAutoscalerConfig(p);
    return { value: config, warnings };
  };
  return watchConfigFile(path, load, onReload, logger, intervalMs);
}
