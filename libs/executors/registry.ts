// The executors a worker can run: a registry of providers, built once per worker from a list
// (no global that grows). `builtinExecutors()` lists the ones runmesh ships; a worker then keeps
// only those its `[mesh] worker_executors` names, and refuses a name it has no provider for,
// rather than running a `docker` job in the host shell.
import { customProvider } from "./custom/provider.ts";
import { dockerProvider } from "./docker/provider.ts";
import { dockerAutoscalerProvider } from "./docker-autoscaler/provider.ts";
import { instanceProvider } from "./instance/provider.ts";
import type { ExecutorProvider } from "./provider.ts";
import { shellProvider } from "./shell/provider.ts";
import { sshProvider } from "./ssh/provider.ts";

/** A `worker_executors` entry no provider serves: a configuration error at start. */
export class UnknownExecutorError extends Error {
  constructor(
    readonly unknown: readonly string[],
    readonly available: readonly string[],
  ) {
    super(
      `[mesh] worker_executors: ${unknown.map((n) => JSON.stringify(n)).join(", ")} ${unknown.length === 1 ? "is not an executor" : "are not executors"} this worker can run; available: ${available.map((n) => JSON.stringify(n)).join(", ")}. Remove ${unknown.length === 1 ? "it" : "them"} from worker_executors, or start a worker that has ${unknown.length === 1 ? "it" : "them"}`,
    );
    this.name = "UnknownExecutorError";
  }
}

export class ExecutorRegistry {
  private readonly byName: ReadonlyMap<string, ExecutorProvider>;

  constructor(providers: readonly ExecutorProvider[]) {
    const byName = new Map<string, ExecutorProvider>();
    for (const p of providers) {
      if (byName.has(p.name)) throw new Error(`executor "${p.name}" is registered twice`);
      byName.set(p.name, p);
    }
    this.byName = byName;
  }

  get(name: string): ExecutorProvider | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The registry narrowed to `configured`, in that order; throws if one is not registered. */
  select(configured: readonly string[]): ExecutorRegistry {
    const unknown = configured.filter((n) => !this.byName.has(n));
    if (unknown.length > 0) throw new UnknownExecutorError(unknown, this.names());
    return new ExecutorRegistry([...new Set(configured)].map((n) => this.byName.get(n)!));
  }

  /** A registry with `more` added (tests, plug-ins). */
  with(...more: ExecutorProvider[]): ExecutorRegistry {
    return new ExecutorRegistry([...this.byName.values(), ...more]);
  }
}

/** The executors runmesh ships. A new executor adds its provider here, from its own folder. */
export function builtinExecutors(): ExecutorRegistry {
  return new ExecutorRegistry([
    shellProvider,
    dockerProvider(),
    sshProvider(),
    customProvider(),
    instanceProvider(),
    dockerAutoscalerProvider(),
  ]);
}
