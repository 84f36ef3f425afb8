// runmesh's reading of GitLab Runner's config.toml (every section of the advanced configuration
// reference) plus runmesh's own [mesh] table.
export { autoscalerPolicySchema, autoscalerSchema, connectorConfigSchema } from "./autoscaler-section.ts";
export { CACHE_TYPES, cacheSchema, cacheSettingsSchema } from "./cache-section.ts";
export { ConfigError } from "./config-error.ts";
export { configSchema, GLOBAL_DEFAULTS, sessionServerSchema } from "./config-schema.ts";
export {
  customSchema,
  dockerSchema,
  instanceSchema,
  kubernetesSchema,
  machineSchema,
  parallelsSchema,
  serviceSchema,
  sshSchema,
  virtualboxSchema,
} from "./executor-sections.ts";
export { hasLegacyCiSuffix, normalizeGitLabUrl } from "./gitlab-url.ts";
export { formatGoDuration, formatGoDurationNs, GoDurationError, parseGoDuration } from "./go-duration.ts";
export { goExpandEnv } from "./go-expand-env.ts";
export { MESH_DEFAULTS, type MeshConfig, meshSchema } from "./mesh-schema.ts";
export {
  type Config,
  loadConfig,
  type ParsedConfig,
  type ParseOptions,
  parseConfig,
} from "./parse-config.ts";
export { runnerKeys } from "./runner-key.ts";
export {
  defaultShell,
  EXECUTORS,
  type Executor,
  missingPollingKeys,
  POLLING_KEYS,
  type PollingKey,
  RUNNER_DEFAULTS,
  type RunnerConfig,
  type RunnerSettings,
  runnerEntrySchema,
  runnerFileEntrySchema,
  runnerSettingsSchema,
  SHELLS,
  type Shell,
} from "./runner-schema.ts";
export { defaultCertsDir, type RunnerTlsFiles, resolveRunnerTls } from "./runner-tls.ts";
export { shortToken } from "./short-token.ts";
export { loadOrCreateSystemId, SYSTEM_ID_FILE, type SystemIdOptions, systemIdPath } from "./system-id.ts";
export { workerRunnerSettings } from "./worker-settings.ts";
