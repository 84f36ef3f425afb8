// The executor tables of a [[runners]] entry: [runners.docker], [runners.ssh], [runners.parallels],
// [runners.virtualbox], [runners.machine], [runners.kubernetes], [runners.custom], [runners.instance].
// Keys and types follow GitLab Runner's common/config.go; defaults that GitLab applies when a key
// is absent are filled in here so the rest of runmesh reads effective values.
import { z } from "zod";
import { lazySection } from "./lazy-section.ts";
import {
  anyTable,
  bool,
  dockerCpus,
  dockerSize,
  float,
  goDuration,
  int,
  oneOf,
  optStr,
  PULL_POLICIES,
  pullPolicyList,
  str,
  strArray,
  strMap,
} from "./schema-primitives.ts";

/** [[runners.docker.services]] and [[runners.kubernetes.services]]. */
export const serviceSchema = lazySection(() =>
  z.object(
    {
      name: str(),
      alias: str().optional(),
      entrypoint: strArray().optional(),
      command: strArray().optional(),
      environment: strArray().optional(),
    },
    { error: "a table" },
  ),
);

export const dockerSchema = lazySection(() =>
  z.object(
    {
      // docker.Credentials
      host: optStr(),
      tls_cert_path: optStr(),
      tls_verify: bool().optional(),

      hostname: optStr(),
      image: optStr(),
      runtime: optStr(),
      memory: dockerSize().optional(),
      memory_swap: dockerSize().optional(),
      memory_reservation: dockerSize().optional(),
      cpuset_cpus: optStr(),
      cpuset_mems: optStr(),
      cpus: dockerCpus().optional(),
      cpu_shares: int().optional(),
      dns: strArray().optional(),
      dns_search: strArray().optional(),
      privileged: bool().default(false),
      services_privileged: bool().optional(),
      disable_entrypoint_overwrite: bool().default(false),
      user: optStr(),
      group_add: strArray().optional(),
      userns_mode: optStr(),
      cap_add: strArray().optional(),
      cap_drop: strArray().optional(),
      oom_kill_disable: bool().default(false),
      oom_score_adjust: int().optional(),
      security_opt: strArray().optional(),
      services_security_opt: strArray().optional(),
      devices: strArray().optional(),
      device_cgroup_rules: strArray().optional(),
      gpus: optStr(),
      disable_cache: bool().default(false),
      volumes: strArray().optional(),
      volume_driver: optStr(),
      volume_driver_ops: strMap().optional(),
      cache_dir: optStr(),
      extra_hosts: strArray().optional(),
      volumes_from: strArray().optional(),
      network_mode: optStr(),
      ipcmode: optStr(),
      mac_address: optStr(),
      links: strArray().optional(),
      services: z
        .array(serviceSchema, { error: "an array of [[runners.docker.services]] tables" })
        .optional(),
      // 0 or absent means GitLab's default of 30 s; -1 disables the wait.
      wait_for_services_timeout: int()
        .optional()
        .transform((v) => (v === undefined || v === 0 ? 30 : v)),
      allowed_images: strArray().optional(),
      allowed_privileged_images: strArray().optional(),
      allowed_privileged_services: strArray().optional(),
      allowed_pull_policies: z.array(oneOf(PULL_POLICIES)).optional(),
      allowed_services: strArray().optional(),
      // GitLab's DockerConfig.GetPullPolicies: an empty list means ["always"].
      pull_policy: pullPolicyList()
        .optional()
        .transform((v): (typeof PULL_POLICIES)[number][] => (v && v.length > 0 ? v : ["always"])),
      isolation: oneOf(["default", "hyperv", "process", ""]).optional(),
      shm_size: int().optional(),
      tmpfs: strMap().optional(),
      services_tmpfs: strMap().optional(),
      sysctls: strMap().optional(),
      helper_image: optStr(),
      helper_image_flavor: optStr(),
      helper_image_autoset_arch_and_os: bool().optional(),
      container_labels: strMap().optional(),
      enable_ipv6: bool().optional(),
      ulimit: strMap().optional(),
      network_mtu: int().optional(),
      // -1 (default) means no limit on services per job.
      services_limit: int().default(-1),
      service_cpuset_cpus: optStr(),
      service_cpu_shares: int().optional(),
      service_cpus: dockerCpus().optional(),
      service_memory: dockerSize().optional(),
      service_memory_swap: dockerSize().optional(),
      service_memory_reservation: dockerSize().optional(),
      service_gpus: optStr(),
      allowed_users: strArray().optional(),
    },
    { error: "a table" },
  ),
);

export const sshSchema = lazySection(() =>
  z.object(
    {
      user: optStr(),
      password: optStr(),
      host: optStr(),
      // GitLab keeps the port as a string ("22"); an integer fails to load in GitLab Runner too.
      port: z
        .string({ error: `a string like "22"` })
        .optional()
        .transform((v) => (v === undefined || v === "" ? "22" : v)),
      identity_file: optStr(),
      // GitLab's ShouldDisableStrictHostKeyChecking: absent means false (host keys are checked).
      disable_strict_host_key_checking: bool().default(false),
      known_hosts_file: optStr(),
    },
    { error: "a table" },
  ),
);

export const parallelsSchema = lazySection(() =>
  z.object(
    {
      base_name: optStr(),
      template_name: optStr(),
      disable_snapshots: bool().default(false),
      time_server: optStr(),
      allowed_images: strArray().optional(),
    },
    { error: "a table" },
  ),
);

export const virtualboxSchema = lazySection(() =>
  z.object(
    {
      base_name: optStr(),
      base_snapshot: optStr(),
      base_folder: optStr(),
      disable_snapshots: bool().default(false),
      allowed_images: strArray().optional(),
      // Documented default: headless.
      start_type: oneOf(["headless", "gui", "separate", ""])
        .optional()
        .transform((v) => (v === undefined || v === "" ? "headless" : v)),
    },
    { error: "a table" },
  ),
);

const machineAutoscalingSchema = lazySection(() =>
  z.object(
    {
      Periods: strArray().optional(),
      Timezone: optStr(),
      IdleCount: int().optional(),
      IdleScaleFactor: float().optional(),
      IdleCountMin: int().optional(),
      IdleTime: int().optional(),
    },
    { error: "a table" },
  ),
);

/** [runners.machine]: GitLab spells these keys in CamelCase. */
export const machineSchema = lazySection(() =>
  z.object(
    {
      MaxGrowthRate: int().default(0),
      IdleCount: int().optional(),
      IdleScaleFactor: float().default(0),
      IdleCountMin: int().optional(),
      IdleTime: int().optional(),
      MaxBuilds: int().optional(),
      MachineDriver: optStr(),
      MachineName: str()
        .refine((v) => v === "" || v.includes("%s"), {
          error: `a name template containing %s, like "auto-scale-%s"`,
        })
        .optional(),
      MachineOptions: strArray().optional(),
      OffPeakPeriods: strArray().optional(),
      OffPeakTimezone: optStr(),
      OffPeakIdleCount: int().optional(),
      OffPeakIdleTime: int().optional(),
      autoscaling: z
        .array(machineAutoscalingSchema, { error: "an array of [[runners.machine.autoscaling]] tables" })
        .optional(),
    },
    { error: "a table" },
  ),
);

/** [runners.custom]. Timeouts are seconds; the defaults are GitLab's. */
export const customSchema = lazySection(() =>
  z.object(
    {
      config_exec: optStr(),
      config_args: strArray().optional(),
      config_exec_timeout: int().default(3600),
      prepare_exec: optStr(),
      prepare_args: strArray().optional(),
      prepare_exec_timeout: int().default(3600),
      run_exec: optStr(),
      run_args: strArray().optional(),
      cleanup_exec: optStr(),
      cleanup_args: strArray().optional(),
      cleanup_exec_timeout: int().default(3600),
      graceful_kill_timeout: int().default(600),
      force_kill_timeout: int().default(600),
    },
    { error: "a table" },
  ),
);

export const instanceSchema = lazySection(() =>
  z.object(
    {
      allowed_images: strArray().optional(),
      use_common_build_dir: bool().default(false),
    },
    { error: "a table" },
  ),
);

// [runners.kubernetes] — the documented keys are typed; Kubernetes pass-through structures
// (affinity, lifecycle hooks) are kept as tables GitLab hands on to the API server.
const k8sMountBase = {
  name: str(),
  mount_path: str(),
  sub_path: optStr(),
  read_only: bool().optional(),
};
const k8sVolumesSchema = lazySection(() =>
  z.object(
    {
      host_path: z.array(z.object({ ...k8sMountBase, host_path: optStr() })).optional(),
      pvc: z.array(z.object(k8sMountBase)).optional(),
      config_map: z.array(z.object({ ...k8sMountBase, items: strMap().optional() })).optional(),
      secret: z.array(z.object({ ...k8sMountBase, items: strMap().optional() })).optional(),
      empty_dir: z
        .array(
          z.object({
            name: str(),
            mount_path: str(),
            sub_path: optStr(),
            medium: optStr(),
            size_limit: optStr(),
          }),
        )
        .optional(),
      csi: z
        .array(
          z.object({
            ...k8sMountBase,
            driver: str(),
            fs_type: optStr(),
            volume_attributes: strMap().optional(),
          }),
        )
        .optional(),
    },
    { error: "a table" },
  ),
);

const k8sPodSecurityContextSchema = lazySection(() =>
  z.object(
    {
      fs_group: int().optional(),
      run_as_group: int().optional(),
      run_as_non_root: bool().optional(),
      run_as_user: int().optional(),
      supplemental_groups: z.array(int()).optional(),
      selinux_type: optStr(),
    },
    { error: "a table" },
  ),
);

const k8sContainerSecurityContextSchema = lazySection(() =>
  z.object(
    {
      capabilities: z.object({ add: strArray().optional(), drop: strArray().optional() }).optional(),
      privileged: bool().optional(),
      run_as_user: int().optional(),
      run_as_group: int().optional(),
      run_as_non_root: bool().optional(),
      read_only_root_filesystem: bool().optional(),
      allow_privilege_escalation: bool().optional(),
      selinux_type: optStr(),
      proc_mount: oneOf(["default", "unmasked", "Default", "Unmasked", ""]).optional(),
    },
    { error: "a table" },
  ),
);

const k8sResourceKeys = [
  "cpu_limit",
  "cpu_request",
  "memory_limit",
  "memory_request",
  "ephemeral_storage_limit",
  "ephemeral_storage_request",
] as const;
const k8sResources = () =>
  Object.fromEntries(
    ["", "service_", "helper_"].flatMap((prefix) =>
      k8sResourceKeys.flatMap((key) => [
        [`${prefix}${key}`, optStr()],
        [`${prefix}${key}_overwrite_max_allowed`, optStr()],
      ]),
    ),
  ) as Record<
    `${"" | "service_" | "helper_"}${(typeof k8sResourceKeys)[number]}${"" | "_overwrite_max_allowed"}`,
    ReturnType<typeof optStr>
  >;

export const kubernetesSchema = lazySection(() =>
  z.object(
    {
      host: optStr(),
      cert_file: optStr(),
      key_file: optStr(),
      ca_file: optStr(),
      bearer_token_overwrite_allowed: bool().default(false),
      bearer_token: optStr(),
      image: optStr(),
      namespace: optStr(),
      namespace_overwrite_allowed: optStr(),
      namespace_per_job: bool().optional(),
      privileged: bool().optional(),
      runtime_class_name: optStr(),
      allow_privilege_escalation: bool().optional(),
      ...k8sResources(),
      allowed_images: strArray().optional(),
      allowed_pull_policies: z.array(oneOf(PULL_POLICIES)).optional(),
      allowed_services: strArray().optional(),
      allowed_users: strArray().optional(),
      allowed_groups: strArray().optional(),
      // Absent means the cluster's default pull policy.
      pull_policy: pullPolicyList().optional(),
      node_selector: strMap().optional(),
      node_selector_overwrite_allowed: optStr(),
      node_tolerations: strMap().optional(),
      node_tolerations_overwrite_allowed: optStr(),
      affinity: anyTable().optional(),
      image_pull_secrets: strArray().optional(),
      use_service_account_image_pull_secrets: bool().optional(),
      helper_image: optStr(),
      helper_image_flavor: optStr(),
      helper_image_autoset_arch_and_os: bool().optional(),
      terminationGracePeriodSeconds: int().optional(),
      pod_termination_grace_period_seconds: int().optional(),
      cleanup_grace_period_seconds: int().optional(),
      // GitLab: absent or ≤ 0 means 5 minutes.
      cleanup_resources_timeout: goDuration().optional(),
      // GitLab: poll_interval ≤ 0 means 3 s, poll_timeout ≤ 0 means 180 s.
      poll_interval: int()
        .optional()
        .transform((v) => (v === undefined || v <= 0 ? 3 : v)),
      poll_timeout: int()
        .optional()
        .transform((v) => (v === undefined || v <= 0 ? 180 : v)),
      resource_availability_check_max_attempts: int().default(5),
      pod_labels: strMap().optional(),
      pod_labels_overwrite_allowed: optStr(),
      scheduler_name: optStr(),
      service_account: optStr(),
      service_account_overwrite_allowed: optStr(),
      pod_annotations: strMap().optional(),
      pod_annotations_overwrite_allowed: optStr(),
      pod_security_context: k8sPodSecurityContextSchema.optional(),
      init_permissions_container_security_context: k8sContainerSecurityContextSchema.optional(),
      build_container_security_context: k8sContainerSecurityContextSchema.optional(),
      helper_container_security_context: k8sContainerSecurityContextSchema.optional(),
      service_container_security_context: k8sContainerSecurityContextSchema.optional(),
      volumes: k8sVolumesSchema.optional(),
      host_aliases: z.array(z.object({ ip: str(), hostnames: strArray() })).optional(),
      services: z
        .array(serviceSchema, { error: "an array of [[runners.kubernetes.services]] tables" })
        .optional(),
      cap_add: strArray().optional(),
      cap_drop: strArray().optional(),
      dns_policy: oneOf(["none", "default", "cluster-first", "cluster-first-with-host-net", ""]).optional(),
      dns_config: z
        .object({
          nameservers: strArray().optional(),
          searches: strArray().optional(),
          options: z.array(z.object({ name: str(), value: str().optional() })).optional(),
        })
        .optional(),
      container_lifecycle: anyTable().optional(),
      priority_class_name: optStr(),
      pod_spec: z
        .array(
          z.object({
            name: optStr(),
            patch_path: optStr(),
            patch: optStr(),
            patch_type: oneOf(["json", "merge", "strategic", ""]).optional(),
          }),
        )
        .optional(),
      logs_base_dir: optStr(),
      scripts_base_dir: optStr(),
      print_pod_warning_events: bool().optional(),
    },
    { error: "a table" },
  ),
);
