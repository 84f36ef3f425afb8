// `runmesh verify [--delete] [--name N | --url U --token T]`, as commands/verify.go: every selected
// entry is checked with `POST runners/verify` (its system_id and features sent). An entry GitLab
// answers 403 for is removed from GitLab's side; without --delete that is a failure (exit 1), with
// --delete it is dropped from config.toml (atomically, the rest of the file kept) and verify
// succeeds. Other answers (5xx, no answer) are reported but keep the entry, as GitLab Runner does.
import { removeRunners, writeFileAtomic } from "../../../libs/config/config-file-edit.ts";
import { runnerInfoFor } from "../../../libs/executors/runner-clients.ts";
import type { CliContext, ExitCode } from "./cli-context.ts";
import { readConfigRunners } from "./config-runners.ts";

export interface VerifyOptions {
  configPath: string;
  name?: string;
  url?: string;
  token?: string;
  delete: boolean;
}

export async function verifyCommand(o: VerifyOptions, ctx: CliContext): Promise<ExitCode> {
  const { text, runners } = await readConfigRunners(o.configPath);
  const hasSelector = Boolean(o.name || o.url || o.token);
  const selected = runners.filter(
    (r) => !hasSelector || r.name === o.name || (r.url === o.url && r.token === o.token),
  );
  if (hasSelector && selected.length === 0) {
    ctx.logger.fatal({ config: o.configPath }, "no runner matches the filtering parameters");
    return 1;
  }
  const systemId = await ctx.systemId(o.configPath);
  const removed: number[] = [];
  for (const r of selected) {
    const res = await ctx.client(r).verifyRunner({
      token: r.token,
      systemId,
      info: runnerInfoFor({ executor: r.executor, shell: r.shell }),
    });
    const who = { runner: r.name, url: r.url };
    if (res.result === "invalid") {
      ctx.logger.error(who, "Verifying runner... is removed (GitLab answered 403: the token is not valid)");
      removed.push(r.index);
    } else if (res.result === "valid") ctx.logger.info(who, "Verifying runner... is valid");
    else
      ctx.logger.warn({ ...who, status: res.status }, "Verifying runner... failed to reach a verdict; kept");
  }
  if (removed.length === 0) return 0;
  if (!o.delete) {
    ctx.logger.fatal("Failed to verify runners (run verify --delete to remove them from the config file)");
    return 1;
  }
  const edit = removeRunners(text, removed);
  await writeFileAtomic(o.configPath, edit.text);
  if (!edit.preserved)
    ctx.logger.warn("config.toml was re-encoded: its comments and formatting could not be kept");
  ctx.logger.info({ config: o.configPath, removed: removed.length }, `Updated ${o.configPath}`);
  return 0;
}
