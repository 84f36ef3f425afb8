// A runner stage done in the worker (cache, artifacts) printed like a script stage: its section
// start with the headline, the work's lines, an ERROR line when it failed, the section end. An
// abort before or during the work makes it "stopped", whatever the work returned.
import type { JobLog } from "./job-log.ts";
import type { Outcome } from "./stage-runner.ts";

export async function inSection(
  run: { log: JobLog; signal: AbortSignal },
  name: string,
  headline: string,
  work: () => Promise<Outcome>,
): Promise<Outcome> {
  if (run.signal.aborted) return { kind: "stopped" };
  run.log.sectionStart(name, headline);
  try {
    const outcome = await work();
    if (outcome.kind === "error") run.log.error(outcome.error.message);
    return run.signal.aborted ? { kind: "stopped" } : outcome;
  } finally {
    run.log.sectionEnd(name);
  }
}
