// One process's observability: the registry and the HTTP server on `listen_address`, shared by
// every tier the process runs (`runmesh run` has three, on one address). Created by whoever owns
// the process (runmesh main, a test) and handed to each tier's start function; prom-client and
// Hono are loaded only when a listen address is set, so a worker without one stays small.
import type { Bus } from "../bus/bus.ts";
import type { Logger } from "../log/logger.ts";
import type { MetricsServer } from "./http-server.ts";
import type { ListedJob } from "./job-list.ts";
import { type ListenAddress, parseListenAddress } from "./listen-address.ts";
import type { MeshMetrics } from "./mesh-metrics.ts";
import type { TierReadiness } from "./readiness.ts";

export interface TierProbe {
  tier: string;
  /** Whether the tier can do its work now, and what is missing when not. */
  ready(): Omit<TierReadiness, "tier">;
}

export interface ServedMetrics {
  metrics: MeshMetrics;
  server: MetricsServer;
  address: ListenAddress;
}

export class ProcessMetrics {
  private started: Promise<ServedMetrics> | undefined;
  private address: ListenAddress | undefined;
  private readonly probes: TierProbe[] = [];

  constructor(private readonly o: { version: string; revision: string }) {}

  /**
   * Starts the registry and the server on the first call; later calls (the other tiers of this
   * process) share them. A second, different address is refused: one process, one address.
   */
  async serve(listenAddress: string, logger: Logger): Promise<ServedMetrics | undefined> {
    const address = parseListenAddress(listenAddress);
    if (!address) return undefined;
    if (this.address && this.address.display !== address.display)
      throw new Error(
        `listen_address ${JSON.stringify(listenAddress)}: this process already serves metrics on ${this.address.display}; give every tier of one process the same address`,
      );
    this.address = address;
    this.started ??= this.load(address, logger);
    return this.started;
  }

  private async load(address: ListenAddress, logger: Logger): Promise<ServedMetrics> {
    const [{ MeshMetrics }, { serveMetrics }, { countLogErrors }] = await Promise.all([
      import("./mesh-metrics.ts"),
      import("./http-server.ts"),
      import("./log-errors.ts"),
    ]);
    const metrics = new MeshMetrics(this.o);
    countLogErrors(logger, (level) => metrics.logged(level));
    let server: MetricsServer;
    try {
      server = serveMetrics(address, {
        metrics: async () => ({ text: await metrics.text(), contentType: metrics.contentType }),
        readiness: () => this.probes.map((p) => ({ tier: p.tier, ...p.ready() })),
        jobs: (): ListedJob[] => metrics.listedJobs(),
      });
    } catch (e) {
      throw new Error(`listen_address ${address.display}: cannot listen: ${(e as Error).message}`);
    }
    logger.info({ address: address.display, url: server.url }, "metrics server listening");
    return { metrics, server, address };
  }

  /** The registry and server, once a tier has started them (undefined without a listen address). */
  get served(): Promise<ServedMetrics> | undefined {
    return this.started;
  }

  /** A tier's readiness joins /readyz. */
  addProbe(probe: TierProbe): void {
    this.probes.push(probe);
  }

  async close(): Promise<void> {
    const s = await this.started?.catch(() => undefined);
    await s?.server.stop();
  }
}

/**
 * What a start function does with its options: serve when an address is set (the handed-in
 * process metrics, or a new one for a tier alone), and count the tier's bus round trips.
 */
export async function tierMetrics(
  o: { metrics?: ProcessMetrics; listenAddress?: string; bus: Bus; logger: Logger; tier: string },
  version: { version: string; revision: string },
): Promise<{ process: ProcessMetrics; served?: ServedMetrics; bus: Bus }> {
  const process = o.metrics ?? new ProcessMetrics(version);
  const served = o.listenAddress ? await process.serve(o.listenAddress, o.logger) : undefined;
  if (!served) return { process, bus: o.bus };
  const { observeRoundTrips } = await import("./bus-round-trips.ts");
  const bus = observeRoundTrips(o.bus, (subject, outcome, s) =>
    served.metrics.busRoundTrip(o.tier, subject, outcome, s),
  );
  return { process, served, bus };
}
