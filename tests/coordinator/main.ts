// Runs the test coordinator as its own process, for the demo and for tests of compiled binaries:
//
//   bun tests/coordinator/main.ts [--port 8088] [--long-poll-ms 50000] [--trace-interval-s 60]
//                                 [--no-two-phase] [--ack-timeout-ms 120000] [--runner glrt-…]…
//
// Prints one line on stdout once listening: `coordinator listening on http://127.0.0.1:<port>`.
// Stops on SIGINT/SIGTERM.
//
// Admin API (JSON in, JSON out; not part of the Runner API and never recorded in `requests`):
//   GET  /__admin/                              → { url }
//   POST /__admin/runners          { token, paused? }         → 201 { token }
//   POST /__admin/runners/:token/paused     { paused }        → 200
//   POST /__admin/runners/:token/forbidden  { forbidden? }    → 200   (jobs/request and verify then 403)
//   GET  /__admin/runners/:token                              → { queueValue, managers: {system_id: features} }
//   POST /__admin/jobs             { runnerToken, spec? }     → 201 job view (spec: JobSpec of job-payload.ts)
//   GET  /__admin/jobs                                        → [job view]
//   GET  /__admin/jobs/:id                                    → job view, with traceText, patches and puts
//   POST /__admin/jobs/:id/cancel                             → { status }  (canceling with cancel_gracefully)
//   POST /__admin/jobs/:id/abort                              → { status }  (canceled)
//   POST /__admin/jobs/:id/watch   { watched }                → 200   (PATCH interval 3 s instead of 60 s)
//   POST /__admin/faults/requests  { n, status, retryAfterS?, rateLimitResetTime? (ISO date) } → 200
//   POST /__admin/faults/patches   { n, status, jobStatus? }  → 200
//   POST /__admin/faults/updates   { n, status, jobStatus? }  → 200
//   POST /__admin/faults/finalize-delay    { n }              → 200   (next n final PUTs get 202)
//   POST /__admin/faults/trace-validation  { n? }             → 200   (next n final PUTs get 412)
//   GET  /__admin/requests?since=<seq>                        → [request record] (answered ones, seq > since)
//   GET  /__admin/violations                                  → [string]
//   GET  /__admin/max-concurrent?runnerToken=&from=running|assigned → { max }
// Errors: 400 { error } for a bad body, 404 { error } for an unknown runner, job or route.
import { parseArgs } from "node:util";
import { z } from "zod";
import { type Coordinator, type CoordinatorJob, startCoordinator } from "./coordinator.ts";
import type { JobSpec } from "./job-payload.ts";

const runnerBody = z.object({ token: z.string().min(1), paused: z.boolean().optional() });
const pausedBody = z.object({ paused: z.boolean() });
const forbiddenBody = z.object({ forbidden: z.boolean().optional() });
const jobBody = z.object({
  runnerToken: z.string().min(1),
  spec: z.record(z.string(), z.unknown()).optional(),
});
const watchBody = z.object({ watched: z.boolean() });
const faultBody = z.object({
  n: z.number().int().positive(),
  status: z.number().int().min(100).max(599),
  retryAfterS: z.number().int().nonnegative().optional(),
  rateLimitResetTime: z.iso.datetime().optional(),
  jobStatus: z.string().optional(),
});
const countBody = z.object({ n: z.number().int().nonnegative().optional() });

class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function reply(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

async function readBody<T>(req: Request, schema: z.ZodType<T>, what: string): Promise<T> {
  const text = await req.text();
  let data: unknown = {};
  if (text.trim() !== "") {
    try {
      data = JSON.parse(text);
    } catch {
      throw new AdminError(400, `${what}: body is not JSON`);
    }
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new AdminError(
      400,
      `${what}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
}

export function jobView(job: CoordinatorJob, detailed: boolean): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: job.id,
    token: job.token,
    runnerToken: job.runnerToken,
    status: job.status,
    systemId: job.systemId,
    runnerManager: job.runnerManager,
    acknowledgements: job.acknowledgements,
    keepalives: job.keepalives,
    traceSize: job.traceSize,
    failureReason: job.failureReason,
    exitCode: job.exitCode,
    final: job.final,
    enqueuedAt: job.enqueuedAt,
    assignedAt: job.assignedAt,
    runningAt: job.runningAt,
    finishedAt: job.finishedAt,
  };
  if (detailed) {
    view.traceText = job.traceText;
    view.patches = job.patches;
    view.puts = job.puts;
    view.history = job.history;
    view.payload = job.payload;
  }
  return view;
}

function jobOf(c: Coordinator, idText: string | undefined): CoordinatorJob {
  const job = c.jobs.get(Number(idText));
  if (!job) throw new AdminError(404, `no job ${idText}`);
  return job;
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AdminError) throw err;
    throw new AdminError(404, err instanceof Error ? err.message : String(err));
  }
}

export async function handleAdmin(c: Coordinator, req: Request, url: URL): Promise<Response> {
  const parts = url.pathname
    .replace(/^\/__admin\/?/, "")
    .split("/")
    .filter(Boolean)
    .map(decodeURIComponent);
  const m = req.method;
  const [a, b, d] = parts;
  try {
    if (m === "GET" && parts.length === 0) return reply(200, { url: c.url });
    if (a === "runners") {
      if (m === "POST" && parts.length === 1) {
        const body = await readBody(req, runnerBody, "register runner");
        guard(() => c.registerRunner(body.token, { paused: body.paused ?? false }));
        return reply(201, { token: body.token });
      }
      if (b !== undefined && m === "GET" && parts.length === 2) {
        return reply(200, {
          queueValue: guard(() => c.queueValue(b)),
          managers: Object.fromEntries(guard(() => c.managers(b))),
        });
      }
      if (b !== undefined && m === "POST" && d === "paused") {
        const body = await readBody(req, pausedBody, "pause runner");
        guard(() => c.setRunnerPaused(b, body.paused));
        return reply(200, {});
      }
      if (b !== undefined && m === "POST" && d === "forbidden") {
        const body = await readBody(req, forbiddenBody, "forbid runner");
        guard(() => c.setRunnerForbidden(b, body.forbidden ?? true));
        return reply(200, {});
      }
    }
    if (a === "jobs") {
      if (m === "POST" && parts.length === 1) {
        const body = await readBody(req, jobBody, "enqueue job");
        const job = guard(() => c.enqueueJob(body.runnerToken, (body.spec ?? {}) as JobSpec));
        return reply(201, jobView(job, false));
      }
      if (m === "GET" && parts.length === 1)
        return reply(
          200,
          [...c.jobs.values()].map((j) => jobView(j, false)),
        );
      if (m === "GET" && parts.length === 2) return reply(200, jobView(jobOf(c, b), true));
      if (m === "POST" && d === "cancel") return reply(200, { status: c.cancel(jobOf(c, b).id) });
      if (m === "POST" && d === "abort") return reply(200, { status: c.abort(jobOf(c, b).id) });
      if (m === "POST" && d === "watch") {
        const body = await readBody(req, watchBody, "watch job");
        c.setTraceWatched(jobOf(c, b).id, body.watched);
        return reply(200, {});
      }
    }
    if (a === "faults" && m === "POST") {
      if (b === "requests" || b === "patches" || b === "updates") {
        const body = await readBody(req, faultBody, `fault ${b}`);
        const options = {
          status: body.status,
          ...(body.retryAfterS !== undefined ? { retryAfterS: body.retryAfterS } : {}),
          ...(body.rateLimitResetTime ? { rateLimitResetTime: new Date(body.rateLimitResetTime) } : {}),
          ...(body.jobStatus ? { jobStatus: body.jobStatus } : {}),
        };
        if (b === "requests") c.failNextRequests(body.n, options);
        if (b === "patches") c.failNextPatches(body.n, options);
        if (b === "updates") c.failNextUpdates(body.n, options);
        return reply(200, {});
      }
      if (b === "finalize-delay") {
        c.delayNextFinalizations((await readBody(req, countBody, "finalize delay")).n ?? 1);
        return reply(200, {});
      }
      if (b === "trace-validation") {
        c.failNextTraceValidations((await readBody(req, countBody, "trace validation")).n ?? 1);
        return reply(200, {});
      }
    }
    if (m === "GET" && a === "requests") {
      const since = Number(url.searchParams.get("since") ?? 0);
      return reply(
        200,
        c.requests.filter((r) => r.seq > since && r.status !== 0),
      );
    }
    if (m === "GET" && a === "violations") return reply(200, c.violations);
    if (m === "GET" && a === "max-concurrent") {
      const from = url.searchParams.get("from") === "assigned" ? "assigned" : "running";
      return reply(200, {
        max: c.maxConcurrentRunning(url.searchParams.get("runnerToken") ?? undefined, from),
      });
    }
    return reply(404, { error: `no admin route ${m} ${url.pathname}` });
  } catch (err) {
    if (err instanceof AdminError) return reply(err.status, { error: err.message });
    throw err;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      "long-poll-ms": { type: "string" },
      "trace-interval-s": { type: "string" },
      "ack-timeout-ms": { type: "string" },
      "no-two-phase": { type: "boolean", default: false },
      runner: { type: "string", multiple: true },
    },
  });
  const number = (flag: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) {
      console.error(`coordinator: --${flag}: expected a non-negative integer, got "${value}"`);
      process.exit(2);
    }
    return n;
  };
  let coordinator: Coordinator | undefined;
  const longPollMs = number("long-poll-ms", values["long-poll-ms"]);
  const traceUpdateIntervalS = number("trace-interval-s", values["trace-interval-s"]);
  const ackTimeoutMs = number("ack-timeout-ms", values["ack-timeout-ms"]);
  coordinator = await startCoordinator({
    port: number("port", values.port) ?? 0,
    ...(longPollMs !== undefined ? { longPollMs } : {}),
    ...(traceUpdateIntervalS !== undefined ? { traceUpdateIntervalS } : {}),
    ...(ackTimeoutMs !== undefined ? { ackTimeoutMs } : {}),
    twoPhaseCommit: !values["no-two-phase"],
    extraRoutes: (req, url) =>
      url.pathname.startsWith("/__admin") && coordinator ? handleAdmin(coordinator, req, url) : undefined,
  });
  for (const token of values.runner ?? []) coordinator.registerRunner(token);
  console.log(`coordinator listening on ${coordinator.url}`);
  const stop = async () => {
    await coordinator?.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (import.meta.main) await main();
