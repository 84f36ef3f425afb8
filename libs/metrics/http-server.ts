// The metrics and debug server on `listen_address`, as GitLab Runner's (commands/multi.go
// setupMetricsAndDebugServer): /metrics (GET and HEAD only, 405 otherwise: restrictHTTPMethods),
// /debug/jobs/list, plus /healthz and /readyz for the mesh's tiers. Hono on Bun.serve.
import { Hono } from "hono";
import { formatJobList, JOB_LIST_VERSION, type ListedJob } from "./job-list.ts";
import type { ListenAddress } from "./listen-address.ts";
import { readinessReport, type TierReadiness } from "./readiness.ts";

export interface MetricsEndpoints {
  metrics(): Promise<{ text: string; contentType: string }>;
  readiness(): TierReadiness[];
  jobs(): ListedJob[];
  now?: () => number;
}

export function metricsApp(e: MetricsEndpoints): Hono {
  const app = new Hono();
  app.on(["GET", "HEAD"], "/metrics", async (c) => {
    const m = await e.metrics();
    return c.body(m.text, 200, { "Content-Type": m.contentType });
  });
  app.all("/metrics", (c) => c.text("Method Not Allowed\n", 405, { Allow: "GET, HEAD" }));
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/readyz", (c) => {
    const r = readinessReport(e.readiness());
    return c.text(r.body, r.status);
  });
  app.get("/debug/jobs/list", (c) =>
    c.text(formatJobList(e.jobs(), (e.now ?? Date.now)()), 200, { "X-List-Version": JOB_LIST_VERSION }),
  );
  return app;
}

export interface MetricsServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export function serveMetrics(address: ListenAddress, e: MetricsEndpoints): MetricsServer {
  const app = metricsApp(e);
  const server = Bun.serve({ hostname: address.hostname, port: address.port, fetch: app.fetch });
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return {
    url: `http://${host}:${server.port}`,
    port: server.port ?? address.port,
    stop: () => server.stop(true),
  };
}
