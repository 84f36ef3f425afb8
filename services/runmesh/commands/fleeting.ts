// `runmesh fleeting install | list`, as `gitlab-runner fleeting …` (seeds/000 "Fleeting plugin
// management"): install pulls each autoscaled entry's `plugin` from its OCI registry (the newest
// version matching its constraint; `--upgrade` fetches a newer one even when a match is
// installed), list prints each entry's plugin and what it resolves to here. Credentials for
// private registries come from `fleeting login`'s file (libs/fleeting/oci-plugin-store.ts).
import { loadConfig } from "../../../libs/config/parse-config.ts";
import { installPlugin } from "../../../libs/fleeting/oci-plugin-store.ts";
import { pluginInstallRoot, resolvePlugin } from "../../../libs/fleeting/plugin-discovery.ts";
import { PLUGIN_GROUPS, pluginName } from "../../../libs/fleeting/plugin-groups.ts";
import type { CliContext, ExitCode } from "./cli-context.ts";

async function autoscaledPlugins(configPath: string): Promise<{ runner: string; plugin: string }[]> {
  const { config } = await loadConfig(configPath);
  return config.runners
    .filter((r) => r.autoscaler?.plugin)
    .map((r) => ({ runner: r.name ?? r.runnerKey, plugin: r.autoscaler!.plugin! }))
    .filter((p) => !PLUGIN_GROUPS.has(pluginName(p.plugin)));
}

export async function fleetingCommand(
  sub: "install" | "list",
  o: { configPath: string; upgrade?: boolean },
  ctx: CliContext,
): Promise<ExitCode> {
  const root = pluginInstallRoot();
  let failed = 0;
  for (const { runner, plugin } of await autoscaledPlugins(o.configPath)) {
    try {
      if (sub === "install") {
        const got = await installPlugin(plugin, { root, upgrade: o.upgrade });
        ctx.logger.info(
          { runner, plugin, version: got.version, path: got.path },
          got.fetched ? "plugin installed" : "plugin already installed",
        );
      } else {
        const r = resolvePlugin(plugin);
        ctx.out(`runner=${runner} plugin=${plugin} path=${r.path} version=${r.version ?? "-"} from=${r.how}`);
      }
    } catch (err) {
      failed++;
      ctx.logger.error({ runner, plugin }, (err as Error).message);
    }
  }
  return failed ? 1 : 0;
}
