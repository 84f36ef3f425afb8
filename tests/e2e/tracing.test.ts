// One job, one trace across the tiers: the poller's hand-out, the scheduler's dispatch and the
// worker's run are spans of the same trace, parent to child, their context carried in bus message
// headers over a real nats-server; exported over OTLP/HTTP (JSON) to a local receiver standing in
// for a collector. No token reaches a span.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTracing, otlpTracesUrl, type Tracing } from "../../libs/telemetry/tracing.ts";
import { startCoordinator } from "../coordinator/coordinator.ts";
import { type NatsServer, startNatsServer } from "../infra/nats-server.ts";
import { startMesh } from "./mesh-harness.ts";

interface ExportedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP traces receiver on 127.0.0.1: keeps every span it is sent, and the raw bodies. */
function startReceiver() {
  const spans: ExportedSpan[] = [];
  const bodies: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (req.method !== "POST" || new URL(req.url).pathname !== "/v1/traces")
        return new Response("not found", { status: 404 });
      const text = await req.text();
      bodies.push(text);
      const body = JSON.parse(text) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: {
            spans: {
              name: string;
              traceId: string;
              spanId: string;
              parentSpanId?: string;
              attributes?: { key: string; value: Record<string, unknown> }[];
            }[];
          }[];
        }[];
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "";
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              service,
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              attributes: Object.fromEntries(
                (s.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]),
              ),
            });
      }
      return new Response("{}", { headers: { "Content-Type": "application/json" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/v1/traces`, spans, bodies, stop: () => server.stop(true) };
}

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

test("the OTLP URL comes from the standard variables, traces first; none means tracing off", () => {
  expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" })).toBe("http://c:4318/v1/traces");
  expect(
    otlpTracesUrl({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t/x",
    }),
  ).toBe("http://t/x");
  expect(otlpTracesUrl({})).toBeUndefined();
});

test("a job's trace spans poller → scheduler → worker over NATS, parent to child, with no token in it", async () => {
  const receiver = startReceiver();
  const c = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  const token = "glrt-traced-runner-0123456789";
  c.registerRunner(token);
  const tracings: Tracing[] = [];
  const mesh = await startMesh({
    transport: "nats",
    natsUrl: nats.url,
    config: { url: c.url, concurrent: 1, runners: [{ name: "traced", token }] },
    tracing: async (service) => {
      const t = await createTracing({ service: `runmesh-${service}`, url: receiver.url, exportDelayMs: 50 });
      tracings.push(t);
      return t;
    },
  });
  try {
    const job = c.enqueueJob(token, { script: ["echo traced"], gitStrategy: "none" });
    expect((await c.waitForFinal(job.id, 20_000)).status).toBe("success");
    const deadline = Date.now() + 10_000;
    const named = (n: string) =>
      receiver.spans.find((s) => s.name === n && s.attributes["runmesh.job.id"] === job.id);
    while (
      !(named("runmesh.worker.job") && named("runmesh.scheduler.dispatch") && named("runmesh.poller.accept"))
    ) {
      if (Date.now() > deadline) throw new Error(`spans received: ${JSON.stringify(receiver.spans)}`);
      await Promise.all(tracings.map((t) => t.flush()));
      await Bun.sleep(100);
    }
    const accept = named("runmesh.poller.accept")!;
    const dispatch = named("runmesh.scheduler.dispatch")!;
    const run = named("runmesh.worker.job")!;
    expect(new Set([accept.traceId, dispatch.traceId, run.traceId]).size).toBe(1);
    expect(accept.parentSpanId).toBeUndefined();
    expect(dispatch.parentSpanId).toBe(accept.spanId);
    expect(run.parentSpanId).toBe(dispatch.spanId);
    expect([accept.service, dispatch.service, run.service]).toEqual([
      "runmesh-poller",
      "runmesh-scheduler",
      "runmesh-worker-0",
    ]);
    expect(run.attributes).toMatchObject({ "runmesh.worker": "w0", "runmesh.job.state": "success" });
    const all = receiver.bodies.join("\n");
    expect(all).not.toContain(token);
    expect(all).not.toContain(job.token);
  } finally {
    await mesh.stop();
    for (const t of tracings) await t.shutdown();
    await c.stop();
    receiver.stop();
  }
});
