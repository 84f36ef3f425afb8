// The planner's view of [runners.autoscaler]: durations in milliseconds, GitLab Runner's defaults
// applied (docs "docker autoscaler" / taskscaler: update 1m, 2s when expecting, throttle 100/s with
// burst = max_instances; instance_acquire_timeout 15m, deletion_retry_interval 1m, shutdown
// deletion every 10s up to 3 times, failure_threshold 3), resolved once from the parsed config so
// the planner trusts its input.
import type { z } from "zod";
import type { autoscalerSettingsSchema } from "../../libs/config/autoscaler-section.ts";
import { durationMs } from "../../libs/config/schema-primitives.ts";

export type AutoscalerSection = z.output<typeof autoscalerSettingsSchema>;

export interface PolicySettings {
  /** Cron patterns; the policy is active in every minute one of them matches. */
  periods: string[];
  /** IANA zone the periods are read in; undefined = the process's local zone. */
  timezone?: string;
  /** Idle capacity to keep, in jobs (slots), not instances. */
  idleCount: number;
  idleTimeMs: number;
  scaleFactor: number;
  /** 0 = no cap on the scale_factor term. */
  scaleFactorLimit: number;
  /** Reserve only against ready idle slots (default: idle_count > 0). */
  preemptive: boolean;
}

export interface PlannerSettings {
  capacityPerInstance: number;
  /** 0 = unlimited uses per instance. */
  maxUseCount: number;
  /** 0 = unlimited. */
  maxInstances: number;
  /** Instances per second; Infinity when scale_throttle.limit = -1. */
  throttleLimit: number;
  throttleBurst: number;
  policies: PolicySettings[];
  updateIntervalMs: number;
  updateIntervalWhenExpectingMs: number;
  deleteInstancesOnShutdown: boolean;
  instanceReadyCommand?: string;
  /** instance_acquire_timeout: the longest a job waits for a slot; pending instances count as coming this long. */
  instanceAcquireTimeoutMs: number;
  /** deletion_retry_interval: Decrease again for an instance still listed after this. */
  deletionRetryIntervalMs: number;
  /** delete_instances_on_shutdown: look again this often, up to this many times, until the group is empty. */
  shutdownDeletionIntervalMs: number;
  shutdownDeletionRetries: number;
  /** failure_threshold: consecutive failed heartbeats before an instance is replaced. */
  failureThreshold: number;
}

/** What applies when no [[runners.autoscaler.policy]] matches the current minute. */
export const DEFAULT_POLICY: PolicySettings = {
  periods: ["* * * * *"],
  idleCount: 0,
  idleTimeMs: 0,
  scaleFactor: 0,
  scaleFactorLimit: 0,
  preemptive: false,
};

export function plannerSettings(section: AutoscalerSection): PlannerSettings {
  const limit = section.scale_throttle?.limit ?? 0;
  const throttleLimit = limit < 0 ? Number.POSITIVE_INFINITY : limit === 0 ? 100 : limit;
  const throttleBurst =
    section.scale_throttle?.burst ??
    (section.max_instances > 0 ? section.max_instances : Number.isFinite(throttleLimit) ? throttleLimit : 0);
  return {
    capacityPerInstance: Math.max(1, section.capacity_per_instance),
    maxUseCount: Math.max(0, section.max_use_count),
    maxInstances: Math.max(0, section.max_instances),
    throttleLimit,
    throttleBurst,
    policies: (section.policy ?? []).map((p) => ({
      periods: p.periods,
      timezone: p.timezone,
      idleCount: Math.max(0, p.idle_count),
      idleTimeMs: p.idle_time ? durationMs(p.idle_time) : 0,
      scaleFactor: Math.max(0, p.scale_factor),
      scaleFactorLimit: Math.max(0, p.scale_factor_limit),
      preemptive: p.preemptive_mode ?? p.idle_count > 0,
    })),
    updateIntervalMs: durationMs(section.update_interval),
    updateIntervalWhenExpectingMs: durationMs(section.update_interval_when_expecting),
    deleteInstancesOnShutdown: section.delete_instances_on_shutdown,
    instanceReadyCommand: section.instance_ready_command,
    instanceAcquireTimeoutMs: durationMs(section.instance_acquire_timeout),
    deletionRetryIntervalMs: durationMs(section.deletion_retry_interval),
    shutdownDeletionIntervalMs: durationMs(section.shutdown_deletion_interval),
    shutdownDeletionRetries: Math.max(0, section.shutdown_deletion_retries),
    failureThreshold: Math.max(1, section.failure_threshold),
  };
}
