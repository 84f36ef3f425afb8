// The runmesh command: every tier in one process (`runmesh run`, a drop-in for
// `gitlab-runner run`), or one tier per process over NATS (`runmesh poller|scheduler|worker`).
import { autoscalerTier } from "../autoscaler/tier.ts";
import { cacheSignerTier } from "../cache-signer/tier.ts";
import { workerTier } from "../executor-worker/tier.ts";
import { pollerTier } from "../poller/tier.ts";
import { schedulerTier } from "../scheduler/tier.ts";
import { runCommand } from "./command.ts";
import { runManagementVerb } from "./commands/run-verb.ts";

/**
 * `runmesh [global options] VERB [options]`, as `gitlab-runner`: parsing in cli/, each management
 * verb in commands/, the tiers in tier-process.ts. Exit codes: 0 done, 1 failed, 2 usage error.
 */
export function main(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  return runCommand(argv, env, {
    tiers: {
      poller: pollerTier,
      scheduler: schedulerTier,
      worker: workerTier,
      cacheSigner: cacheSignerTier,
      autoscaler: autoscalerTier,
    },
    management: runManagementVerb,
  });
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
