// `runmesh unregister (--name N | --token T [--url U] | --all-runners)`, as commands/unregister.go.
// A runner created in GitLab (a `glrt-` token) is shared by every manager that runs it, so only
// this manager is unregistered: `DELETE runners/managers` with the system_id GitLab has seen from
// it (`.runner_system_id`). A legacy token unregisters the whole runner (`DELETE runners`). The
// entry leaves config.toml only once GitLab said yes; the file is rewritten atomically.
import { removeRunners, writeFileAtomic } from "../../../libs/config/config-file-edit.ts";
import type { CliContext, ExitCode } from "./cli-context.ts";
import { isCreatedRunnerToken, type RunnerRef, readConfigRunners } from "./config-runners.ts";

export interface UnregisterOptions {
  configPath: string;
  name?: string;
  url?: string;
  token?: string;
  allRunners: boolean;
}

/** Which entry --name / --token (/ --url) pick, as Config.RunnerByNameAndToken & co. */
export function pickRunner(
  runners: readonly RunnerRef[],
  o: { name?: string; token?: string; url?: string },
): { ok: true; runner: RunnerRef } | { ok: false; message: string } {
  if (!o.name && !o.token)
    return { ok: false, message: "at least one of --name or --token must be specified" };
  const found = runners.find(
    (r) => (!o.name || r.name === o.name) && (!o.token || r.token === o.token) && (!o.url || r.url === o.url),
  );
  if (found) return { ok: true, runner: found };
  const by = [o.name && `name "${o.name}"`, o.token && "that token", o.url && `url "${o.url}"`].filter(
    Boolean,
  );
  return {
    ok: false,
    message: `get runner by token or name: could not find a runner with ${by.join(" and ")}`,
  };
}

async function unregisterOne(r: RunnerRef, configPath: string, ctx: CliContext): Promise<boolean> {
  const manager = isCreatedRunnerToken(r.token);
  const res = await ctx
    .client(r)
    .unregister({ token: r.token, systemId: manager ? await ctx.systemId(configPath) : undefined });
  const what = manager ? "Unregistering runner manager from GitLab" : "Unregistering runner from GitLab";
  const who = { runner: r.name, url: r.url };
  if (res.result === "ok") {
    ctx.logger.info(who, `${what} succeeded`);
    return true;
  }
  ctx.logger.error(
    { ...who, status: res.status, reason: res.result === "failed" ? res.message : undefined },
    `${what} ${res.result === "forbidden" ? "forbidden" : "failed"}`,
  );
  return false;
}

export async function unregisterCommand(o: UnregisterOptions, ctx: CliContext): Promise<ExitCode> {
  const { text, runners } = await readConfigRunners(o.configPath);
  const gone: number[] = [];
  let failed = false;
  if (o.allRunners) {
    ctx.logger.warn("Unregistering all runners");
    for (const r of runners) {
      if (await unregisterOne(r, o.configPath, ctx)) gone.push(r.index);
      else failed = true;
    }
    if (failed) ctx.logger.error("Failed to unregister runners: those stay in the config file");
  } else {
    const picked = pickRunner(runners, o);
    if (!picked.ok) {
      ctx.logger.fatal(`failed to unregister runner: ${picked.message}`);
      return 1;
    }
    const r = picked.runner;
    if (!(await unregisterOne(r, o.configPath, ctx))) {
      ctx.logger.fatal({ runner: r.name }, `failed to unregister runner "${r.name}"`);
      return 1;
    }
    // Every entry with the same credentials goes (GitLab Runner compares url and token).
    for (const other of runners) if (other.url === r.url && other.token === r.token) gone.push(other.index);
  }
  if (gone.length > 0) {
    const edit = removeRunners(text, gone);
    await writeFileAtomic(o.configPath, edit.text);
    if (!edit.preserved)
      ctx.logger.warn("config.toml was re-encoded: its comments and formatting could not be kept");
    ctx.logger.info(`Updated ${o.configPath}`);
  }
  return failed ? 1 : 0;
}
