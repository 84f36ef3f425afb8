// The Docker Engine API bodies of a job's containers, from [runners.docker] settings (GitLab
// Runner's executors/docker createHostConfig / createServiceContainerConfig). Pure, so every key's
// effect is a table test. The pod: a sandbox container owns the job's network namespace; the job,
// helper and service containers join it (`container:<id>`). Docker refuses Hostname, ExtraHosts
// and DNS on a container that joins another's namespace, so they are set on the sandbox alone.
import type { z } from "zod";
import type { dockerSchema } from "../../config/executor-sections.ts";

export type DockerSettings = z.output<typeof dockerSchema>;

export type ContainerRole = "sandbox" | "service" | "build" | "predefined" | "wait";

export interface ContainerCreateBody {
  name?: string;
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[] | null;
  Env?: string[];
  User?: string;
  Hostname?: string;
  Labels: Record<string, string>;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  HostConfig: Record<string, unknown>;
}

/** docker/go-units RAMInBytes: `512m` → 536870912 (binary units, as Docker reads them). */
export function ramInBytes(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  if (!m) throw new Error(`expected a size like "512m", got ${JSON.stringify(value)}`);
  const unit = { k: 1, m: 2, g: 3, t: 4, p: 5 }[(m[2] ?? "").toLowerCase() as "k"] ?? 0;
  return Math.floor(Number(m[1]) * 1024 ** unit);
}

/** DockerConfig.GetNanoCPUs: "1.5" or "3/2" CPUs → nano CPUs. */
export function nanoCpus(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const frac = /^(\d+)\/(\d+)$/.exec(value);
  const cpus = frac ? Number(frac[1]) / Number(frac[2]) : Number(value);
  if (!Number.isFinite(cpus))
    throw new Error(`expected a number of CPUs like "1.5", got ${JSON.stringify(value)}`);
  return Math.round(cpus * 1e9);
}

/** Labels every object of one job carries: the sweep and the cleanup find them by these. */
export function jobLabels(o: {
  workerId: string;
  jobId: number;
  runnerToken: string;
  role: ContainerRole | "volume";
  user: Readonly<Record<string, string>> | undefined;
}): Record<string, string> {
  // The runner's own labels win over container_labels of the same name (GitLab's labeler does).
  return {
    ...o.user,
    "runmesh.managed": "true",
    "runmesh.worker": o.workerId,
    "runmesh.job.id": String(o.jobId),
    "runmesh.runner.short_token": o.runnerToken,
    "runmesh.type": o.role,
  };
}

/** `[runners.docker] ulimit`: `nofile = "1024:2048"` → Docker's Ulimits. */
function ulimits(map: Readonly<Record<string, string>> | undefined) {
  if (!map) return undefined;
  return Object.entries(map).map(([Name, v]) => {
    const [soft, hard] = v.split(":");
    return { Name, Soft: Number(soft), Hard: Number(hard ?? soft) };
  });
}

/** `devices` entries `host[:container[:perms]]` (GitLab's parseDeviceString). */
export function parseDevice(spec: string): {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
} {
  const parts = spec.split(":");
  if (parts.length > 3)
    throw new Error(`failed to parse device string ${JSON.stringify(spec)}: too many colons`);
  return {
    PathOnHost: parts[0]!,
    PathInContainer: parts[1] ?? parts[0]!,
    CgroupPermissions: parts[2] ?? "rwm",
  };
}

/** The resource and security part of a build (or helper) container's HostConfig. */
export function buildHostConfig(
  s: DockerSettings,
  o: { privileged: boolean; binds: string[]; networkMode: string },
) {
  return clean({
    Binds: o.binds,
    NetworkMode: o.networkMode,
    Init: true,
    Privileged: o.privileged,
    Memory: ramInBytes(s.memory),
    MemorySwap: ramInBytes(s.memory_swap),
    MemoryReservation: ramInBytes(s.memory_reservation),
    NanoCpus: nanoCpus(s.cpus),
    CpusetCpus: s.cpuset_cpus,
    CpusetMems: s.cpuset_mems,
    CpuShares: s.cpu_shares,
    CapAdd: s.cap_add,
    CapDrop: s.cap_drop,
    SecurityOpt: s.security_opt,
    GroupAdd: s.group_add,
    Devices: s.devices?.map(parseDevice),
    DeviceCgroupRules: s.device_cgroup_rules,
    OomKillDisable: s.oom_kill_disable || undefined,
    OomScoreAdj: s.oom_score_adjust,
    ShmSize: s.shm_size,
    Tmpfs: s.tmpfs,
    Sysctls: s.sysctls,
    Ulimits: ulimits(s.ulimit),
    Runtime: s.runtime,
    UsernsMode: s.userns_mode,
    IpcMode: s.ipcmode,
    VolumesFrom: s.volumes_from,
    VolumeDriver: s.volume_driver,
    RestartPolicy: { Name: "no" },
    LogConfig: { Type: "json-file" },
  });
}

/** A service container's HostConfig: the service_* limits, services_tmpfs, services_security_opt. */
export function serviceHostConfig(s: DockerSettings, o: { privileged: boolean; networkMode: string }) {
  return clean({
    NetworkMode: o.networkMode,
    Init: true,
    Privileged: o.privileged,
    Memory: ramInBytes(s.service_memory),
    MemorySwap: ramInBytes(s.service_memory_swap),
    MemoryReservation: ramInBytes(s.service_memory_reservation),
    NanoCpus: nanoCpus(s.service_cpus),
    CpusetCpus: s.service_cpuset_cpus,
    CpuShares: s.service_cpu_shares,
    SecurityOpt: s.services_security_opt,
    ShmSize: s.shm_size,
    Tmpfs: s.services_tmpfs,
    Runtime: s.runtime,
    RestartPolicy: { Name: "no" },
    LogConfig: { Type: "json-file" },
  });
}

/**
 * The sandbox: owns the network namespace (`network_mode`, default `none`: no bridge) and carries
 * what Docker only accepts on a namespace's owner — hostname, extra_hosts (plus one
 * `alias:127.0.0.1` per service alias), dns, dns_search.
 */
export function sandboxHostConfig(s: DockerSettings, o: { networkMode: string; aliases: readonly string[] }) {
  const hosts = [...(s.extra_hosts ?? []), ...o.aliases.map((a) => `${a}:127.0.0.1`)];
  return clean({
    NetworkMode: o.networkMode,
    Init: true,
    ExtraHosts: hosts.length > 0 ? hosts : undefined,
    Dns: s.dns,
    DnsSearch: s.dns_search,
    RestartPolicy: { Name: "no" },
    LogConfig: { Type: "json-file" },
  });
}

/** GitLab Runner's shell detection: bash when the image has it, else sh (BashDetectShellScript). */
export const DETECT_SHELL = [
  "if [ -x /usr/local/bin/bash ]; then exec /usr/local/bin/bash ",
  "elif [ -x /usr/bin/bash ]; then exec /usr/bin/bash ",
  "elif [ -x /bin/bash ]; then exec /bin/bash ",
  "elif [ -x /usr/local/bin/sh ]; then exec /usr/local/bin/sh ",
  "elif [ -x /usr/bin/sh ]; then exec /usr/bin/sh ",
  "elif [ -x /bin/sh ]; then exec /bin/sh ",
  "elif [ -x /busybox/sh ]; then exec /busybox/sh ",
  "else echo shell not found; exit 1; fi",
].join("\n");

/** The command of a stage container: the detected shell, or `sh` when the job says `shell = "sh"`. */
export function shellCommand(shell: "bash" | "sh"): string[] {
  return shell === "sh" ? ["sh", "-s"] : ["sh", "-c", DETECT_SHELL];
}

function clean<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
