// Every metric runmesh exposes, with its HELP text and label names. The gitlab_runner_* ones are
// GitLab Runner's own, copied from its source (commands/multi.go, commands/builds_helper.go,
// helpers/prometheus/failures_collector.go and log_hook.go, network/api_requests_collector.go,
// common/version.go), so dashboards and alerts written for GitLab Runner read runmesh unchanged;
// runmesh_* ones describe the mesh, which GitLab Runner does not have. Pure data: the README's
// table and the registry (mesh-metrics.ts) both come from here.

export interface MetricSpec {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
  labels: readonly string[];
  buckets?: readonly number[];
  /** Which tier records it ("process": every tier). */
  tier: "process" | "poller" | "scheduler" | "worker" | "autoscaler";
  /** GitLab Runner's file the name, HELP and labels come from; absent for runmesh's own. */
  source?: string;
}

const RUNNER = ["runner", "runner_name", "system_id"] as const;

export const GITLAB_RUNNER_METRICS = {
  versionInfo: {
    name: "gitlab_runner_version_info",
    type: "gauge",
    help: "A metric with a constant '1' value labeled by different build stats fields.",
    labels: ["name", "version", "revision", "branch", "go_version", "built_at", "os", "architecture"],
    tier: "process",
    source: "common/version.go",
  },
  errors: {
    name: "gitlab_runner_errors_total",
    type: "counter",
    help: "The number of caught errors.",
    labels: ["level"],
    tier: "process",
    source: "helpers/prometheus/log_hook.go",
  },
  concurrent: {
    name: "gitlab_runner_concurrent",
    type: "gauge",
    help: "The current value of concurrent setting",
    labels: [],
    tier: "scheduler",
    source: "commands/multi.go",
  },
  limit: {
    name: "gitlab_runner_limit",
    // Sic: GitLab Runner's HELP for the per-runner limit repeats the one of concurrent.
    type: "gauge",
    help: "The current value of concurrent setting",
    labels: RUNNER,
    tier: "scheduler",
    source: "commands/multi.go",
  },
  jobs: {
    name: "gitlab_runner_jobs",
    type: "gauge",
    help: "The current number of running builds.",
    labels: [...RUNNER, "state", "stage", "executor_stage"],
    tier: "worker",
    source: "commands/builds_helper.go",
  },
  jobsTotal: {
    name: "gitlab_runner_jobs_total",
    type: "counter",
    help: "Total number of handled jobs",
    labels: RUNNER,
    tier: "worker",
    source: "commands/builds_helper.go",
  },
  failedJobs: {
    name: "gitlab_runner_failed_jobs_total",
    type: "counter",
    help: "Total number of failed jobs",
    labels: ["runner", "runner_name", "failure_reason", "mode"],
    tier: "worker",
    source: "helpers/prometheus/failures_collector.go",
  },
  jobDuration: {
    name: "gitlab_runner_job_duration_seconds",
    type: "histogram",
    help: "Histogram of job durations",
    labels: [...RUNNER, "mode"],
    buckets: [30, 60, 300, 600, 1800, 3600, 7200, 10800, 18000, 36000],
    tier: "worker",
    source: "commands/builds_helper.go",
  },
  apiRequestStatuses: {
    name: "gitlab_runner_api_request_statuses_total",
    type: "counter",
    help: "The total number of API requests made by GitLab Runner, partitioned by runner, system_id, endpoint, status and method.",
    labels: ["runner", "system_id", "endpoint", "status", "method"],
    tier: "poller",
    source: "network/api_requests_collector.go",
  },
  apiRequestDuration: {
    name: "gitlab_runner_api_request_duration_seconds",
    type: "histogram",
    help: "Latency histogram of API requests made by GitLab Runner, partitioned by runner, system_id, endpoint, status_class and method.",
    labels: ["runner", "system_id", "endpoint", "status_class", "method"],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    tier: "poller",
    source: "network/api_requests_collector.go",
  },
  requestConcurrency: {
    name: "gitlab_runner_request_concurrency",
    type: "gauge",
    help: "The current number of concurrent requests for a new job",
    labels: ["runner", "system_id"],
    tier: "poller",
    source: "commands/builds_helper.go",
  },
  requestConcurrencyExceeded: {
    name: "gitlab_runner_request_concurrency_exceeded_total",
    type: "counter",
    help: "Count of excess requests above the configured request_concurrency limit",
    labels: ["runner", "system_id"],
    tier: "poller",
    source: "commands/builds_helper.go",
  },
  requestConcurrencyHardLimit: {
    name: "gitlab_runner_request_concurrency_hard_limit",
    type: "gauge",
    help: "Configured request_concurrency limit",
    labels: ["runner", "system_id"],
    tier: "poller",
    source: "commands/builds_helper.go",
  },
  requestConcurrencyAdaptiveLimit: {
    name: "gitlab_runner_request_concurrency_adaptive_limit",
    type: "gauge",
    help: "Computed adaptive request concurrency limit",
    labels: ["runner", "system_id"],
    tier: "poller",
    source: "commands/builds_helper.go",
  },
  requestConcurrencyUsedLimit: {
    name: "gitlab_runner_request_concurrency_used_limit",
    type: "gauge",
    help: "Used request concurrency limit",
    labels: ["runner", "system_id"],
    tier: "poller",
    source: "commands/builds_helper.go",
  },
} as const satisfies Record<string, MetricSpec>;

/** Sub-second buckets: mesh hops are milliseconds, GitLab's API buckets start at 100 ms. */
const MESH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const RUNMESH_METRICS = {
  leases: {
    name: "runmesh_leases_total",
    type: "counter",
    help: "Slot leases the scheduler answered, by runner entry, outcome (granted, refused) and refusal reason.",
    labels: ["runner_name", "outcome", "reason"],
    tier: "scheduler",
  },
  dispatchDuration: {
    name: "runmesh_dispatch_duration_seconds",
    type: "histogram",
    help: "Time of one dispatch offer from the scheduler to a worker until its answer, by outcome (accepted, refused).",
    labels: ["outcome"],
    buckets: MESH_BUCKETS,
    tier: "scheduler",
  },
  workerSlots: {
    name: "runmesh_worker_slots",
    type: "gauge",
    help: "Slots of each live worker as the scheduler counts them, by state (free, used: a running job or a lease).",
    labels: ["worker", "state"],
    tier: "scheduler",
  },
  busRoundTrips: {
    name: "runmesh_bus_round_trips_total",
    type: "counter",
    help: "Request/reply round trips over the mesh bus, by tier, subject and outcome (ok, timeout, no_responders, error).",
    labels: ["tier", "subject", "outcome"],
    tier: "process",
  },
  busRoundTripDuration: {
    name: "runmesh_bus_round_trip_seconds",
    type: "histogram",
    help: "Duration of request/reply round trips over the mesh bus, by tier and subject.",
    labels: ["tier", "subject"],
    buckets: MESH_BUCKETS,
    tier: "process",
  },
  pickup: {
    name: "runmesh_job_pickup_seconds",
    type: "histogram",
    help: "A picked-up job's way to its start, by phase: lease (poller waits for a slot lease), request (jobs/request until the 201), dispatch (scheduler: accepted until a worker took it), start (worker: claimed until acknowledged at GitLab).",
    labels: ["runner_name", "phase"],
    buckets: MESH_BUCKETS,
    tier: "process",
  },
} as const satisfies Record<string, MetricSpec>;

export type PickupPhase = "lease" | "request" | "dispatch" | "start";

/**
 * The autoscaler's, under the names fleeting and taskscaler give them (their Prometheus collectors,
 * as GitLab's own runner dashboards query them: gitlab-com/runbooks), with GitLab Runner's constant
 * labels (runner, runner_name, system_id: executors/internal/autoscaler/provider.go), so those
 * dashboards read runmesh's instance groups unchanged. The `state` and `operation` values are
 * runmesh's where no source gave taskscaler's.
 */
export const FLEETING_METRICS = {
  instances: {
    name: "fleeting_provisioner_instances",
    type: "gauge",
    help: "Number of instances by state (requested: asked for, not listed yet; creating; running; deleting).",
    labels: [...RUNNER, "state"],
    tier: "autoscaler",
    source: "fleeting metrics/prometheus",
  },
  maxInstances: {
    name: "fleeting_provisioner_max_instances",
    type: "gauge",
    help: "Maximum number of instances (max_instances; 0 = unlimited).",
    labels: RUNNER,
    tier: "autoscaler",
    source: "fleeting metrics/prometheus",
  },
  tasks: {
    name: "fleeting_taskscaler_tasks",
    type: "gauge",
    help: "Number of task slots by state (idle, pending, acquired, reserved, unavailable, unhealthy).",
    labels: [...RUNNER, "state"],
    tier: "autoscaler",
    source: "taskscaler metrics/prometheus",
  },
  maxTasksPerInstance: {
    name: "fleeting_taskscaler_max_tasks_per_instance",
    type: "gauge",
    help: "Task slots of one instance (capacity_per_instance).",
    labels: RUNNER,
    tier: "autoscaler",
    source: "taskscaler metrics/prometheus",
  },
  maxUseCountPerInstance: {
    name: "fleeting_taskscaler_max_use_count_per_instance",
    type: "gauge",
    help: "Tasks an instance runs before it is removed (max_use_count; 0 = unlimited).",
    labels: RUNNER,
    tier: "autoscaler",
    source: "taskscaler metrics/prometheus",
  },
  desiredInstances: {
    name: "fleeting_taskscaler_desired_instances",
    type: "gauge",
    help: "Instances the last scaling decision wanted (its `required` term).",
    labels: RUNNER,
    tier: "autoscaler",
    source: "taskscaler metrics/prometheus",
  },
  scaleOperations: {
    name: "fleeting_taskscaler_scale_operations_total",
    type: "counter",
    help: "Instances asked for (up) and removed (down) by scaling decisions.",
    labels: [...RUNNER, "operation"],
    tier: "autoscaler",
    source: "taskscaler metrics/prometheus",
  },
  taskOperations: {
    name: "fleeting_taskscaler_task_operations_total",
    type: "counter",
    help: "Task operations (acquire, acquire_no_capacity, release, heartbeat_failure).",
    labels: [...RUNNER, "operation"],
    tier: "autoscaler",
    source: "taskscaler metrics/prometheus",
  },
} as const satisfies Record<string, MetricSpec>;

export type ScaleOperation = "up" | "down";
export type TaskOperation = "acquire" | "acquire_no_capacity" | "release" | "heartbeat_failure";
