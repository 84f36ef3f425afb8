// Automatic runner token rotation, as GitLab Runner's `run` does it (commands/multi.go
// resetRunnerTokens): the entry due first (libs/config/token-renewal.ts, 75 % of the token's
// lifetime) gets `POST runners/reset_authentication_token`, and the new token with its
// token_obtained_at / token_expires_at is written back to config.toml atomically, the rest of the
// file kept (libs/config/config-file-edit.ts). The config reload then moves the poller to the new
// token: requests in flight finish under the old one, new ones carry the new one. Only the process
// that owns config.toml (`run`, `poller`) rotates; pollers on separate machines with separate copies
// of the file would each rotate and lock the others out, so HA pollers share one file (or set
// FF_DISABLE_AUTOMATIC_TOKEN_ROTATION and rotate by hand with `runmesh reset-token`).
import { setRunnerKeys, writeFileAtomic } from "../../libs/config/config-file-edit.ts";
import type { Config } from "../../libs/config/index.ts";
import { shortToken } from "../../libs/config/index.ts";
import { nextRunnerToReset } from "../../libs/config/token-renewal.ts";
import { runnerInfoFor } from "../../libs/executors/runner-clients.ts";
import type { ResetTokenResult } from "../../libs/gitlab/client.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { gitlabClientFor } from "../poller/main.ts";
import { readConfigRunners } from "./commands/config-runners.ts";

type Runner = Config["runners"][number];

export interface TokenRotatorOptions {
  configPath: string;
  logger: Logger;
  systemId: string;
  /** The client that resets this entry's token (its URL and TLS). */
  resetToken: (runner: Runner) => Promise<ResetTokenResult>;
  /** Reload config.toml now (the config watch's reload), so the poller takes the new token. */
  reload: () => Promise<void>;
  now?: () => Date;
  /** After a failed reset, the next try waits this long (GitLab Runner retries at once). */
  retryMs?: number;
}

/** setTimeout's ceiling (~24.8 days): a later due date is re-planned when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class TokenRotator {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** Entries whose rotation is off or impossible (expired): warned once, not re-planned. */
  private readonly leftAlone = new Set<string>();
  private readonly failedUntil = new Map<string, number>();
  private rotating: Promise<void> | undefined;

  constructor(private readonly o: TokenRotatorOptions) {}

  private now(): Date {
    return (this.o.now ?? (() => new Date()))();
  }

  /** (Re)plans the next rotation for this configuration: at start and after every reload. */
  plan(config: Config): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    const candidates = config.runners
      .filter((r) => !this.leftAlone.has(r.token))
      .map((r) => ({ ...r, name: r.name ?? shortToken(r.token) }));
    const next = nextRunnerToReset(candidates);
    if (!next) return;
    const retryAt = this.failedUntil.get(next.runner.token) ?? 0;
    const due = Math.max(next.at.getTime(), retryAt);
    const wait = Math.min(Math.max(0, due - this.now().getTime()), MAX_TIMER_MS);
    this.o.logger.debug(
      { runner: next.runner.name, due: new Date(due).toISOString() },
      "next runner token rotation planned",
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (due - this.now().getTime() > 0) return this.plan(config); // a capped long wait
      this.rotating = this.rotate(next.runner, config).catch((e: Error) =>
        this.o.logger.error({ runner: next.runner.name, err: e.message }, "runner token rotation failed"),
      );
    }, wait);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.rotating;
  }

  private async rotate(runner: Runner & { name: string }, config: Config): Promise<void> {
    const log = this.o.logger;
    const who = { runner: runner.name, system_id: this.o.systemId };
    if (runner.feature_flags?.FF_DISABLE_AUTOMATIC_TOKEN_ROTATION === true) {
      log.warn(
        who,
        `Automatic token rotation is disabled for runner: ${shortToken(runner.token)}-${this.o.systemId}. Your token is about to expire`,
      );
      this.leftAlone.add(runner.token);
      return this.plan(config);
    }
    const expiresAt = runner.token_expires_at;
    if (expiresAt && expiresAt.getTime() <= this.now().getTime()) {
      log.error(
        { ...who, expired_at: expiresAt.toISOString() },
        "the runner token has expired and GitLab cannot reset an expired token: register the runner again (runmesh register)",
      );
      this.leftAlone.add(runner.token);
      return this.plan(config);
    }
    // Read the file as it is now: a token another process (or `runmesh reset-token`) already
    // rotated is not ours to reset again; the reload that follows its write re-plans.
    const { text, runners } = await readConfigRunners(this.o.configPath);
    const index = runners.findIndex((r) => r.token === runner.token);
    if (index < 0) {
      log.info(who, "runner token changed in config.toml meanwhile; not resetting it again");
      return;
    }
    const res = await this.o.resetToken(runner);
    if (res.result !== "ok") {
      const retryMs = this.o.retryMs ?? 60_000;
      this.failedUntil.set(runner.token, this.now().getTime() + retryMs);
      log.error(
        { ...who, status: res.status, retry_in_ms: retryMs, expires_at: expiresAt?.toISOString() },
        `Resetting runner authentication token... ${res.result === "forbidden" ? "failed (check used token)" : "failed"}`,
      );
      return this.plan(config);
    }
    const edit = setRunnerKeys(text, index, {
      token: res.token,
      token_obtained_at: res.tokenObtainedAt,
      token_expires_at: res.tokenExpiresAt ? new Date(res.tokenExpiresAt) : undefined,
    });
    await writeFileAtomic(this.o.configPath, edit.text);
    this.failedUntil.delete(runner.token);
    log.info(
      { ...who, expires_at: res.tokenExpiresAt ?? null, preserved: edit.preserved },
      "Resetting runner authentication token... succeeded; config.toml updated",
    );
    await this.o.reload();
  }
}

/**
 * `runners/verify` for every entry at start, in the background: a token GitLab refuses (403) is
 * named in the log at once, with what to do, instead of only as failing requests later.
 */
export function verifyRunnersAtStart(config: Config, systemId: string, logger: Logger): void {
  for (const r of config.runners) {
    const name = r.name ?? shortToken(r.token);
    void gitlabClientFor(r, logger)
      .verifyRunner({ token: r.token, systemId, info: runnerInfoFor(r) })
      .then((v) => {
        if (v.result === "valid")
          logger.info({ runner: name, expires_at: v.tokenExpiresAt ?? null }, "Verifying runner... is valid");
        else if (v.result === "invalid")
          logger.error(
            { runner: name },
            "Verifying runner... is not valid: GitLab refuses its token (403); register it again, or remove it with `runmesh verify --delete`",
          );
        else logger.warn({ runner: name, status: v.status }, "Verifying runner... failed; polling anyway");
      })
      .catch((e: Error) => logger.warn({ runner: name, err: e.message }, "Verifying runner... failed"));
  }
}
