// `runmesh fleeting install | list | login`, as `gitlab-runner fleeting …` (seeds/000 "Fleeting plugin
// management"): install pulls each autoscaled entry's `plugin` from its OCI registry (the newest
// version matching its constraint; `--upgrade` fetches a newer one even when a match is
// installed), list prints each entry's plugin and what it resolves to here. Credentials for
// private registries come from `fleeting login`'s file (libs/fleeting/oci-plugin-store.ts).
import { loadConfig } from "../../../libs/config/parse-config.ts";
import {
  authFile,
  installPlugin,
  RegistryClient,
  saveLogin,
} from "../../../libs/fleeting/oci-plugin-store.ts";
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

/**
 * `runmesh fleeting login --registry HOST --username USER`, the password on stdin (never a flag:
 * it would show in `ps` and shell history). The credentials are tried against the registry's
 * `/v2/` first, as `docker login` does, and saved only when it accepts them.
 */
export async function fleetingLogin(
  o: { registry?: string; username?: string },
  ctx: CliContext,
  readPassword: () => Promise<string> = () => Bun.stdin.text(),
): Promise<ExitCode> {
  if (!o.registry || !o.username) {
    ctx.logger.error(
      `fleeting login: ${!o.registry ? "--registry HOST" : "--username USER"} is required (the password is read from stdin), e.g. echo "$TOKEN" | runmesh fleeting login --registry registry.example.com --username deploy`,
    );
    return 2;
  }
  const password = (await readPassword()).replace(/\r?\n$/, "");
  if (password === "") {
    ctx.logger.error(`fleeting login: no password on stdin for ${o.username} at ${o.registry}`);
    return 2;
  }
  const creds = { username: o.username, password };
  try {
    await new RegistryClient(o.registry, creds).request("/", {}, [200]);
  } catch (err) {
    // The client's message names the registry and the status, never the password.
    ctx.logger.error(
      { registry: o.registry, username: o.username },
      `login refused: ${(err as Error).message}`,
    );
    return 1;
  }
  await saveLogin(o.registry, creds);
  ctx.logger.info({ registry: o.registry, username: o.username, file: authFile() }, "Login Succeeded");
  return 0;
}
