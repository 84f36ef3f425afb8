// runmesh_bus_round_trips_total and _seconds: every request/reply a tier makes over the bus,
// counted by a thin wrapper around its Bus (the transports stay unaware of metrics).
import { type Bus, BusNoRespondersError, BusTimeoutError } from "../bus/bus.ts";

/** Per-worker subjects collapse to one label value, so a fleet does not multiply series. */
export function roundTripSubject(subject: string): string {
  return subject.replace(/^runmesh\.worker\.[^.]+\.dispatch$/, "runmesh.worker.*.dispatch");
}

export function roundTripOutcome(e: unknown): string {
  if (e === undefined) return "ok";
  if (e instanceof BusTimeoutError) return "timeout";
  if (e instanceof BusNoRespondersError) return "no_responders";
  return "error";
}

export type RoundTripObserver = (subject: string, outcome: string, seconds: number) => void;

/** The same bus, with each `request` observed; everything else passes through untouched. */
export function observeRoundTrips(bus: Bus, observe: RoundTripObserver): Bus {
  const request: Bus["request"] = async (rpc, data, opts) => {
    const started = performance.now();
    const subject = roundTripSubject(rpc.subject);
    try {
      const reply = await bus.request(rpc, data, opts);
      observe(subject, "ok", (performance.now() - started) / 1000);
      return reply;
    } catch (e) {
      observe(subject, roundTripOutcome(e), (performance.now() - started) / 1000);
      throw e;
    }
  };
  return new Proxy(bus, {
    get(target, prop, receiver) {
      if (prop === "request") return request;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
