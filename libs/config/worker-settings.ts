// What an executor worker may know about a runner entry. Built by parsing the entry with
// runnerSettingsSchema, which has no place for the token, its dates, the cache credentials or the
// plugin_config: an allowlist, so a secret key added to config.toml later cannot slip through.
import { type RunnerConfig, type RunnerSettings, runnerSettingsSchema } from "./runner-schema.ts";

export function workerRunnerSettings(runner: RunnerConfig): RunnerSettings {
  return runnerSettingsSchema.parse(runner);
}
