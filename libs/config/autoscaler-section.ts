// [runners.autoscaler] (fleeting/taskscaler) with plugin_config, connector_config,
// scale_throttle, state_storage, vm_isolation and [[runners.autoscaler.policy]].
import { z } from "zod";
import { lazySection } from "./lazy-section.ts";
import {
  anyTable,
  bool,
  float,
  floatArray,
  goDuration,
  int,
  oneOf,
  optStr,
  strArray,
} from "./schema-primitives.ts";

const table = { error: "a table" } as const;

export const connectorConfigSchema = lazySection(() =>
  z.object(
    {
      os: optStr(),
      arch: optStr(),
      protocol: oneOf(["ssh", "winrm", ""])
        .optional()
        .transform((v) => (v === "" ? undefined : v)),
      protocol_port: int().optional(),
      username: optStr(),
      password: optStr(),
      key_path: optStr(),
      use_static_credentials: bool().default(false),
      keepalive: goDuration().optional(),
      timeout: goDuration().optional(),
      use_external_addr: bool().default(false),
    },
    table,
  ),
);

export const autoscalerPolicySchema = lazySection(() =>
  z.object(
    {
      // Documented default: always active.
      periods: strArray()
        .optional()
        .transform((v) => (v && v.length > 0 ? v : ["* * * * *"])),
      timezone: optStr(),
      idle_count: int().default(0),
      idle_time: goDuration().optional(),
      scale_factor: float().default(0),
      scale_factor_limit: int().default(0),
      preemptive_mode: bool().optional(),
    },
    table,
  ),
);

export const autoscalerSchema = lazySection(() =>
  z.object(
    {
      capacity_per_instance: int().default(1),
      max_use_count: int().default(0),
      // 0 means unlimited.
      max_instances: int().default(0),
      plugin: optStr(),
      // Re-encoded to JSON and handed to the plugin as is.
      plugin_config: anyTable().optional(),
      connector_config: connectorConfigSchema.optional(),
      scale_throttle: z
        .object(
          {
            // GitLab: 0 (default) means 100 instances per second, -1 means no limit.
            limit: int().default(0),
            burst: int().optional(),
          },
          table,
        )
        .optional(),
      state_storage: z
        .object(
          {
            enabled: bool().default(false),
            // Default: .taskscaler beside config.toml (resolved by the autoscaler service).
            dir: optStr(),
            keep_instance_with_acquisitions: bool().default(false),
          },
          table,
        )
        .optional(),
      policy: z
        .array(autoscalerPolicySchema, { error: "an array of [[runners.autoscaler.policy]] tables" })
        .optional(),
      delete_instances_on_shutdown: bool().default(false),
      instance_ready_command: optStr(),
      update_interval: goDuration().default("1m"),
      update_interval_when_expecting: goDuration().default("2s"),
      // GitLab Runner 18.1: how long a job waits for a ready instance (and pending ones count as coming).
      instance_acquire_timeout: goDuration().default("15m"),
      // taskscaler's defaults (GitLab Runner passes 0 and taskscaler applies them).
      deletion_retry_interval: goDuration().default("1m"),
      shutdown_deletion_interval: goDuration().default("10s"),
      shutdown_deletion_retries: int().default(3),
      // Consecutive failed heartbeats before an instance is replaced.
      failure_threshold: int().default(3),
      // Default on in GitLab Runner (nil = on).
      reservation_throttling: bool().optional(),
      log_internal_ip: bool().optional(),
      log_external_ip: bool().optional(),
      vm_isolation: z
        .object(
          {
            enabled: bool().default(false),
            nesting_host: optStr(),
            nesting_config: anyTable().optional(),
            image: optStr(),
            connector_config: connectorConfigSchema.optional(),
          },
          table,
        )
        .optional(),
      instance_operation_time_buckets: floatArray().optional(),
      instance_creation_time_buckets: floatArray().optional(),
      instance_is_running_time_buckets: floatArray().optional(),
      instance_deletion_time_buckets: floatArray().optional(),
      instance_readiness_time_buckets: floatArray().optional(),
      instance_life_duration_buckets: floatArray().optional(),
    },
    table,
  ),
);

/** The autoscaler table without plugin_config, which carries the cloud plugin's credentials. */
export const autoscalerSettingsSchema = lazySection(() =>
  autoscalerSchema.unwrap().omit({ plugin_config: true }),
);
