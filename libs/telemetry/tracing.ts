// OpenTelemetry traces of a job's way through the tiers: the poller's hand-out, the scheduler's
// dispatch and the worker's run are spans of one trace, its context carried in bus message headers
// as W3C `traceparent` (libs/bus/bus.ts reserves headers for it). Exported over OTLP/HTTP when an
// endpoint is configured (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT +
// /v1/traces, the OpenTelemetry variables every collector documents); otherwise nothing is loaded
// and every call is a no-op. The light SDK parts only (ecosystem.md: sdk-trace-base and the OTLP
// HTTP exporter, not sdk-node). Spans carry ids and names, never tokens or variables.
import type { Headers } from "../bus/bus.ts";

export type SpanAttributes = Record<string, string | number | boolean>;

export interface TraceSpan {
  /** The headers that make a span started elsewhere a child of this one. */
  headers(): Headers;
  setAttributes(attributes: SpanAttributes): void;
  /** Ends the span; `error` marks it failed with that message. */
  end(error?: string): void;
}

export interface Tracing {
  /** A span, the child of the span whose headers are given (a new trace without them). */
  start(name: string, o?: { parent?: Headers; attributes?: SpanAttributes }): TraceSpan;
  /** Sends what is buffered. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const noSpan: TraceSpan = { headers: () => ({}), setAttributes: () => {}, end: () => {} };

export const noTracing: Tracing = {
  start: () => noSpan,
  flush: async () => {},
  shutdown: async () => {},
};

/** The OTLP/HTTP traces URL from the standard variables, or undefined (tracing off). */
export function otlpTracesUrl(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return undefined;
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

export interface TracingOptions {
  /** service.name of every span (`runmesh-poller`, `runmesh-worker`, …). */
  service: string;
  /** OTLP/HTTP traces URL; default from the environment (otlpTracesUrl). */
  url?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** How long spans wait in the batch before export (default 5 s, the SDK's). */
  exportDelayMs?: number;
}

export async function createTracing(o: TracingOptions): Promise<Tracing> {
  const url = o.url ?? otlpTracesUrl(o.env ?? process.env);
  if (!url) return noTracing;
  const api = await import("@opentelemetry/api");
  const { W3CTraceContextPropagator } = await import("@opentelemetry/core");
  const { BasicTracerProvider, BatchSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
  const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
  const { resourceFromAttributes } = await import("@opentelemetry/resources");
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": o.service }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url }), {
        scheduledDelayMillis: o.exportDelayMs ?? 5000,
      }),
    ],
  });
  const tracer = provider.getTracer("runmesh");
  const propagator = new W3CTraceContextPropagator();
  return {
    start(name, s = {}) {
      const parent = s.parent
        ? propagator.extract(api.ROOT_CONTEXT, s.parent, api.defaultTextMapGetter)
        : api.ROOT_CONTEXT;
      const span = tracer.startSpan(name, { attributes: s.attributes }, parent);
      return {
        headers() {
          const carrier: Headers = {};
          propagator.inject(api.trace.setSpan(api.ROOT_CONTEXT, span), carrier, api.defaultTextMapSetter);
          return carrier;
        },
        setAttributes: (attributes) => void span.setAttributes(attributes),
        end(error) {
          if (error) span.setStatus({ code: api.SpanStatusCode.ERROR, message: error });
          span.end();
        },
      };
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
