// What every management verb gets from main.ts: where its output goes, the clock, and how to
// reach GitLab for a runner entry. Injected, so tests run a verb in-process against the test
// coordinator and read exactly what a user would see.

import { RUNMESH_REVISION, RUNMESH_VERSION } from "../../../libs/build-info/version.ts";
import { loadOrCreateSystemId } from "../../../libs/config/system-id.ts";
import { GitLabClient } from "../../../libs/gitlab/client.ts";
import type { Logger } from "../../../libs/log/logger.ts";
import type { RunnerRef } from "./config-runners.ts";

export interface CliContext {
  /** Command output (list's table, status): stdout. */
  out(line: string): void;
  /** Progress and errors for the user: stderr, GitLab Runner's log lines. */
  logger: Logger;
  now(): Date;
  client(runner: Pick<RunnerRef, "url" | "tls" | "name">): GitLabClient;
  /** The system_id GitLab has seen from this manager: `.runner_system_id` beside config.toml. */
  systemId(configPath: string): Promise<string>;
}

export function defaultCliContext(logger: Logger): CliContext {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    logger,
    now: () => new Date(),
    client: (r) =>
      new GitLabClient({
        url: r.url,
        version: RUNMESH_VERSION,
        revision: RUNMESH_REVISION,
        tls: r.tls,
        logger,
        runner: r.name,
      }),
    systemId: (configPath) => loadOrCreateSystemId(configPath),
  };
}

/** A verb's outcome: the exit code, as documented in the help text (0 done, 1 failed). */
export type ExitCode = 0 | 1 | 2;
