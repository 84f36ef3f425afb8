// `runmesh reset-token (--name N | --url U --id I | --all-runners)`, as commands/reset_token.go:
// `POST runners/reset_authentication_token` with the entry's current token; GitLab answers 201
// with a new token (the old one stops working at once), written back to config.toml with
// token_obtained_at and token_expires_at, atomically and with the rest of the file kept.
import { setRunnerKeys, writeFileAtomic } from "../../../libs/config/config-file-edit.ts";
import type { CliContext, ExitCode } from "./cli-context.ts";
import { type RunnerRef, readConfigRunners } from "./config-runners.ts";

export interface ResetTokenOptions {
  configPath: string;
  name?: string;
  url?: string;
  id?: number;
  allRunners: boolean;
}

export function pickForReset(
  runners: readonly RunnerRef[],
  o: { name?: string; url?: string; id?: number },
): { ok: true; runner: RunnerRef } | { ok: false; message: string } {
  if (o.name) {
    const r = runners.find((x) => x.name === o.name);
    return r
      ? { ok: true, runner: r }
      : { ok: false, message: `could not find a runner with the name '${o.name}'` };
  }
  if (!o.url || o.id === undefined)
    return { ok: false, message: "No runner provided: pass --name, or --url with --id, or --all-runners" };
  const r = runners.find((x) => x.url === o.url && x.id === o.id);
  return r
    ? { ok: true, runner: r }
    : { ok: false, message: `could not find a runner with the URL '${o.url}' and ID '${o.id}'` };
}

export async function resetTokenCommand(o: ResetTokenOptions, ctx: CliContext): Promise<ExitCode> {
  const { text, runners } = await readConfigRunners(o.configPath);
  let targets: RunnerRef[];
  if (o.allRunners) {
    ctx.logger.warn("Resetting all runner authentication tokens");
    targets = runners;
  } else {
    const picked = pickForReset(runners, o);
    if (!picked.ok) {
      ctx.logger.fatal(`Couldn't get runner credentials: ${picked.message}`);
      return 1;
    }
    targets = [picked.runner];
  }
  let edited = text;
  let preserved = true;
  let failed = 0;
  for (const r of targets) {
    const res = await ctx.client(r).resetToken({ token: r.token, now: ctx.now });
    const who = { runner: r.name, url: r.url };
    if (res.result !== "ok") {
      failed++;
      ctx.logger.error(
        { ...who, status: res.status },
        `Resetting runner authentication token... ${res.result === "forbidden" ? "failed (check used token)" : "failed"}`,
      );
      continue;
    }
    ctx.logger.info(who, "Resetting runner authentication token... succeeded");
    const edit = setRunnerKeys(edited, r.index, {
      token: res.token,
      token_obtained_at: res.tokenObtainedAt,
      token_expires_at: res.tokenExpiresAt ? new Date(res.tokenExpiresAt) : undefined,
    });
    edited = edit.text;
    preserved &&= edit.preserved;
  }
  if (edited !== text) {
    await writeFileAtomic(o.configPath, edited);
    if (!preserved)
      ctx.logger.warn("config.toml was re-encoded: its comments and formatting could not be kept");
    ctx.logger.info(`Updated ${o.configPath}`);
  }
  if (failed > 0) {
    ctx.logger.fatal("Failed to reset runner authentication token");
    return 1;
  }
  return 0;
}
