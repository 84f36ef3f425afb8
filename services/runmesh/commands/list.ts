// `runmesh list`: the configured runners, as `gitlab-runner list` prints them (one line per
// entry: name, Executor, Token, URL). The token is shown short (as GitLab's UI does), never whole.
import { shortToken } from "../../../libs/config/short-token.ts";
import type { CliContext, ExitCode } from "./cli-context.ts";
import { readConfigRunners } from "./config-runners.ts";

export async function listCommand(o: { configPath: string }, ctx: CliContext): Promise<ExitCode> {
  const { runners } = await readConfigRunners(o.configPath);
  ctx.out(`Listing configured runners                          ConfigFile=${o.configPath}`);
  for (const r of runners)
    ctx.out(`${r.name.padEnd(50)}  Executor=${r.executor ?? ""} Token=${shortToken(r.token)} URL=${r.url}`);
  return 0;
}
