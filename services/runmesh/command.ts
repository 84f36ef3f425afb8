// The runmesh command line, parsed and run: help, version, a tier verb (run, poller, scheduler,
// worker) through tier-process.ts, or a management verb. Shared by the all-in-one (every tier and
// verb) and the per-tier binaries (their own tier only), so both answer the same way.

import { RUNMESH_REVISION, RUNMESH_VERSION } from "../../libs/build-info/version.ts";
import { ConfigError } from "../../libs/config/config-error.ts";
import { configFileFor, type GlobalOptions, parseCommandLine } from "./cli/command-line.ts";
import { appHelp, currentVersionInfo, verbHelp, versionText } from "./cli/help-text.ts";
import type { OptionValues } from "./cli/option-table.ts";
import { verbNamed } from "./cli/verbs.ts";
import { runTiers, type TierArgs, type TierSet } from "./tier-process.ts";

/** Management verbs (register, verify, …): the all-in-one's only. */
export type ManagementVerbs = (
  verb: string,
  options: OptionValues,
  globals: GlobalOptions,
) => Promise<number>;

/**
 * `runmesh [global options] VERB [options]`, as `gitlab-runner`: parsing in cli/, each management
 * verb in commands/, the tiers below. Exit codes: 0 done, 1 failed, 2 usage error (help text).
 */
export async function runCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  o: { tiers: TierSet; management?: ManagementVerbs },
): Promise<number> {
  const parsed = parseCommandLine(argv, env);
  if (!parsed.ok) {
    const verb = parsed.verb ? verbNamed(parsed.verb) : undefined;
    console.error(`runmesh${parsed.verb ? ` ${parsed.verb}` : ""}: ${parsed.message}`);
    console.error(verb ? `\n${verbHelp(verb)}` : "\nSee runmesh --help.");
    return 2;
  }
  const cl = parsed.value;
  if (cl.kind === "help") {
    console.log(cl.verb ? verbHelp(cl.verb) : appHelp(`${RUNMESH_VERSION} (${RUNMESH_REVISION})`));
    return 0;
  }
  if (cl.kind === "version" || cl.verb.name === "version") {
    process.stdout.write(versionText(currentVersionInfo(RUNMESH_VERSION, RUNMESH_REVISION)));
    return 0;
  }
  const { verb, globals, options } = cl;
  try {
    if (
      verb.name === "run" ||
      verb.name === "poller" ||
      verb.name === "scheduler" ||
      verb.name === "worker" ||
      verb.name === "autoscaler" ||
      verb.name === "cache-signer"
    ) {
      const args = options as TierArgs;
      // GitLab Runner's default config file for the verbs that read runner entries.
      if (verb.name !== "worker") args.config = configFileFor(options);
      return await runTiers(verb.name, args, globals, o.tiers);
    }
    if (verb.name === "autoscaler simulate") {
      if (!o.tiers.autoscaler)
        throw new Error(`"${verb.name}" needs the autoscaler tier; use the runmesh binary`);
      return await o.tiers.autoscaler.simulate(
        { ...(options as Record<string, string | undefined>), config: configFileFor(options) },
        (line) => console.log(line),
      );
    }
    if (!o.management) throw new Error(`"${verb.name}" is a verb of the runmesh binary, not of this tier's`);
    return await o.management(verb.name, options, globals);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`runmesh ${verb.name}: configuration error:\n${e.message}`);
      return 1;
    }
    console.error(`runmesh ${verb.name}: ${(e as Error).message}`);
    return 1;
  }
}
