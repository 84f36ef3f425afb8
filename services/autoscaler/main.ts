// Autoscaler service entry: one Autoscaler per [[runners]] entry that has [runners.autoscaler]
// (executor docker-autoscaler or instance). It is the only tier that reads plugin_config, the
// cloud plugin's credentials. The instance group behind each entry is the one its `plugin` names
// (libs/fleeting/plugin-groups.ts), resolved for every entry before any autoscaler starts.
import { dirname, isAbsolute, join } from "node:path";
import { RUNMESH_REVISION, RUNMESH_VERSION } from "../../libs/build-info/version.ts";
import type { Bus } from "../../libs/bus/bus.ts";
import { type Config, shortToken } from "../../libs/config/index.ts";
import type { InstanceGroup } from "../../libs/fleeting/instance-group.ts";
import { resolveInstanceGroup } from "../../libs/fleeting/plugin-groups.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { type ProcessMetrics, tierMetrics } from "../../libs/metrics/process-metrics.ts";
import { checkPolicies } from "./active-policy.ts";
import { Autoscaler } from "./autoscaler.ts";
import { withoutRunnerTokens } from "./autoscaler-config.ts";
import { sealedJobs } from "./job-binding.ts";
import { plannerSettings } from "./planner-settings.ts";

type Runner = Config["runners"][number];

export function autoscaledRunners(config: Config): Runner[] {
  return config.runners.filter(
    (r) => r.autoscaler !== undefined && (r.executor === "docker-autoscaler" || r.executor === "instance"),
  );
}

/**
 * state_storage: `dir` (default `.taskscaler` beside config.toml) holds one subdirectory per runner
 * entry, named by its runner key so token rotation keeps the state (GitLab Runner names it by
 * the short token).
 */
export function stateFileFor(
  configPath: string,
  runner: Runner,
): { path: string; keepInstanceWithAcquisitions: boolean } | undefined {
  const st = runner.autoscaler?.state_storage;
  if (!st?.enabled) return undefined;
  const base = dirname(configPath);
  const dir = st.dir ? (isAbsolute(st.dir) ? st.dir : join(base, st.dir)) : join(base, ".taskscaler");
  return {
    path: join(dir, runner.runnerKey, "instances.json"),
    keepInstanceWithAcquisitions: st.keep_instance_with_acquisitions,
  };
}

export async function startAutoscalerService(o: {
  config: Config;
  configPath: string;
  bus: Bus;
  logger: Logger;
  autoscalerId: string;
  /** The instance group of an entry (default: the one its `plugin` names). */
  groupFor?: (runner: Runner) => InstanceGroup;
  leaseTtlMs?: number;
  /** Where /metrics is served (fleeting_* metrics); default: config.toml's listen_address. */
  listenAddress?: string;
  /** This process's metrics, shared with the other tiers it runs. */
  metrics?: ProcessMetrics;
  /** The system_id label (the poller's, when it runs in this process). */
  systemId?: string;
}): Promise<Autoscaler[]> {
  const groupFor = o.groupFor ?? defaultGroupFor;
  // Whoever read the file (the all-in-one reads tokens for its poller), no full token goes further.
  const config = withoutRunnerTokens(o.config);
  // Every entry checked and its group made before any starts: a bad entry starts nothing.
  const planned = autoscaledRunners(config).map((runner) => {
    const name = runner.name ?? runner.runnerKey;
    const settings = plannerSettings(runner.autoscaler!);
    try {
      checkPolicies(settings.policies);
    } catch (err) {
      throw new Error(`runner "${name}": ${(err as Error).message}`);
    }
    return { runner, name, settings, group: groupFor(runner) };
  });
  const m = await tierMetrics(
    { ...o, listenAddress: o.listenAddress ?? o.config.listen_address, tier: "autoscaler" },
    { version: RUNMESH_VERSION, revision: RUNMESH_REVISION },
  );
  const started: Autoscaler[] = [];
  // Acquisitions only for jobs the scheduler's records say run on the asking worker.
  const jobs = sealedJobs(m.bus);
  for (const { runner, name, settings, group } of planned) {
    const a = new Autoscaler({
      bus: m.bus,
      metrics: m.served && {
        registry: m.served.metrics,
        ids: { runner: shortToken(runner.token), runnerName: name, systemId: o.systemId ?? "" },
      },
      group,
      groupKey: runner.runnerKey,
      runnerName: name,
      autoscalerId: o.autoscalerId,
      settings,
      pluginConfig: runner.autoscaler!.plugin_config,
      logger: o.logger,
      stateFile: stateFileFor(o.configPath, runner),
      leaseTtlMs: o.leaseTtlMs,
      jobs,
    });
    await a.start();
    started.push(a);
  }
  m.process.addProbe({
    tier: "autoscaler",
    ready: () => {
      if (o.bus.status() !== "connected") return { ready: false, why: `bus ${o.bus.status()}` };
      return { ready: true };
    },
  });
  return started;
}

/**
 * Policies of a reloaded config.toml, to each running autoscaler whose entry is still there with
 * [runners.autoscaler]; a bad period keeps the old policies and says which runner.
 */
export function reloadAutoscalerPolicies(
  autoscalers: readonly Autoscaler[],
  config: Config,
  logger: Logger,
): void {
  const byKey = new Map(autoscaledRunners(config).map((r) => [r.runnerKey, r]));
  for (const a of autoscalers) {
    const runner = byKey.get(a.groupKey);
    if (!runner) continue;
    const { policies } = plannerSettings(runner.autoscaler!);
    try {
      checkPolicies(policies);
    } catch (err) {
      logger.error(
        { runner: runner.name ?? runner.runnerKey, err: (err as Error).message },
        "reloaded [[runners.autoscaler.policy]] refused; the previous policies stay",
      );
      continue;
    }
    a.reloadPolicies(policies);
  }
}

function defaultGroupFor(runner: Runner): InstanceGroup {
  const request = {
    plugin: runner.autoscaler?.plugin ?? "",
    runnerName: runner.name ?? runner.runnerKey,
    runnerKey: runner.runnerKey,
  };
  return resolveInstanceGroup(request)(request);
}
