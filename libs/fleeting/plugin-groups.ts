// Which instance group a `[runners.autoscaler] plugin = "…"` names: the one seam between the
// autoscaler service and the plugins behind it. GitLab Runner resolves `plugin` to an installed
// fleeting plugin binary (fleeting.md "plugin formats"); runmesh resolves it here to a factory of
// InstanceGroup. Plugins are added to PLUGIN_GROUPS (the fleeting plugin host and the built-in
// `docker`/`static` plugins register here); until then only runmesh's in-memory group is known,
// and every other name stops the autoscaler's start with an error that says so.
import type { InstanceGroup } from "./instance-group.ts";
import { MemoryInstanceGroup } from "./memory-instance-group.ts";

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
  constructor(r: GroupRequest, known: readonly string[]) {
    super(
      `runner "${r.runnerName}": [runners.autoscaler] plugin = ${JSON.stringify(r.plugin)}: no such instance group in this runmesh (it knows ${known.map((k) => `"${k}"`).join(", ")}); fleeting plugins such as aws, googlecloud or azure are not hosted yet`,
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
  if (!factory) throw new UnknownPluginError(r, [...groups.keys()]);
  return factory;
}
