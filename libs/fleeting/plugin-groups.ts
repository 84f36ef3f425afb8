// Which instance group a `[runners.autoscaler] plugin = "…"` names: the one seam between the
// autoscaler service and the plugins behind it. GitLab Runner resolves `plugin` to an installed
// fleeting plugin binary (fleeting.md "plugin formats"); runmesh resolves it here to a factory of
// InstanceGroup: runmesh's own groups in PLUGIN_GROUPS (the in-memory one), else a fleeting plugin
// binary found as GitLab Runner finds it (plugin-discovery.ts: installed OCI versions,
// `fleeting-plugin-<name>` on PATH, so `docker`/`static` find runmesh's built-in plugins) and run
// as a go-plugin process (plugin-process-group.ts); a name found nowhere stops the start.
import type { InstanceGroup } from "./instance-group.ts";
import { MemoryInstanceGroup } from "./memory-instance-group.ts";
import { sweepOrphanedPlugins } from "./orphan-sweep.ts";
import { resolvePlugin } from "./plugin-discovery.ts";
import { PluginProcessGroup } from "./plugin-process-group.ts";

/** What a factory learns about the runner entry whose instance group it makes. */
export interface GroupRequest {
  /** `plugin` as written in config.toml (`aws:latest`, `docker`, …). */
  plugin: string;
  runnerName: string;
  /** The runner entry's key: unique per entry, stable across token rotation. */
  runnerKey: string;
}

export type InstanceGroupFactory = (r: GroupRequest) => InstanceGroup;

/** Known plugin names (the part of `plugin` before any `:constraint`) and their groups. */
export const PLUGIN_GROUPS: ReadonlyMap<string, InstanceGroupFactory> = new Map<string, InstanceGroupFactory>(
  [
    // runmesh's own: instances that exist only in the autoscaler's memory (trying a policy, tests).
    ["memory", (r) => new MemoryInstanceGroup({ id: `memory/${r.runnerKey}`, idPrefix: r.runnerKey })],
  ],
);

export class UnknownPluginError extends Error {
  constructor(r: GroupRequest, known: readonly string[], notFound?: string) {
    super(
      `runner "${r.runnerName}": [runners.autoscaler] plugin = ${JSON.stringify(r.plugin)}: no such instance group in this runmesh (it knows ${known.map((k) => `"${k}"`).join(", ")})${notFound ? ` and no fleeting plugin: ${notFound}` : ""}`,
    );
    this.name = "UnknownPluginError";
  }
}

/** The plugin's name without a version constraint: `aws:1.2` → `aws`, `fleeting-plugin-aws` stays. */
export function pluginName(plugin: string): string {
  return plugin.split(":")[0]!.trim();
}

/** The factory `plugin` names; throws UnknownPluginError naming the runner and the known plugins. */
export function resolveInstanceGroup(
  r: GroupRequest,
  groups: ReadonlyMap<string, InstanceGroupFactory> = PLUGIN_GROUPS,
): InstanceGroupFactory {
  if (r.plugin.trim() === "")
    throw new Error(
      `runner "${r.runnerName}": [runners.autoscaler] plugin: expected the fleeting plugin of the instance group (e.g. "aws:latest"), got nothing`,
    );
  const factory = groups.get(pluginName(r.plugin));
  if (factory) return factory;
  if (groups !== PLUGIN_GROUPS) throw new UnknownPluginError(r, [...groups.keys()]);
  return pluginProcessFactory(r, [...groups.keys()]);
}

let swept = false;

/** A fleeting plugin binary as GitLab Runner finds it (plugin-discovery.ts), run as a process. */
function pluginProcessFactory(r: GroupRequest, known: string[]): InstanceGroupFactory {
  let path: string;
  try {
    path = resolvePlugin(r.plugin).path;
  } catch (err) {
    throw new UnknownPluginError(r, known, (err as Error).message);
  }
  if (!swept) {
    swept = true;
    sweepOrphanedPlugins();
  }
  return (req) => new PluginProcessGroup({ command: [path], name: req.plugin, runnerName: req.runnerName });
}
