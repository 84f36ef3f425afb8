// A scriptable stand-in for GitLab's Runner API on 127.0.0.1, for tests. By default it behaves
// like GitLab: jobs/request → 204, PUT jobs/:id → 200, PATCH trace appends at the range start
// (416 with `Range: 0-<size>` on a gap) and checks the Content-Range format. Scripted answers
// (`script`) are served first, in order, per route.

export interface RecordedRequest {
  method: string;
  /** Path relative to /api/v4/, e.g. `jobs/1/trace`. */
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: Uint8Array;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Still apply the default trace semantics (append) before answering, e.g. 202 + Job-Status. */
  applyTrace?: boolean;
}

export interface FakeGitLabOptions {
  /** Old servers insisted start == current size (416 otherwise); newer ones truncate on rewind. */
  strictAppend?: boolean;
}

const decoder = new TextDecoder();

export class FakeGitLab {
  readonly requests: RecordedRequest[] = [];
  private readonly scripts = new Map<string, ScriptedAnswer[]>();
  private readonly traces = new Map<number, Uint8Array>();
  private readonly server: ReturnType<typeof Bun.serve>;

  constructor(private readonly opts: FakeGitLabOptions = {}) {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => this.handle(req),
    });
  }

  /** Base URL as a runner would configure it (without /api/v4). */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** Queue answers for `"<METHOD> <path>"`, e.g. `"PUT jobs/1"`. */
  script(route: string, ...answers: ScriptedAnswer[]): void {
    const q = this.scripts.get(route) ?? [];
    q.push(...answers);
    this.scripts.set(route, q);
  }

  /** The trace GitLab holds for a job. */
  trace(jobId: number): Uint8Array {
    return this.traces.get(jobId) ?? new Uint8Array(0);
  }

  setTrace(jobId: number, bytes: Uint8Array): void {
    this.traces.set(jobId, bytes);
  }

  /** Requests for one route, in arrival order. */
  calls(route: string): RecordedRequest[] {
    return this.requests.filter((r) => `${r.method} ${r.path}` === route);
  }

  stop(): void {
    this.server.stop(true);
  }

  private async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/^\/api\/v4\//, "");
    const rec: RecordedRequest = {
      method: req.method,
      path,
      query: url.searchParams,
      headers: new Headers(req.headers),
      body: new Uint8Array(await req.arrayBuffer()),
    };
    this.requests.push(rec);
    const route = `${req.method} ${path}`;
    const scripted = this.scripts.get(route)?.shift();
    const traceMatch = /^jobs\/(\d+)\/trace$/.exec(path);
    if (scripted) {
      if (scripted.applyTrace && traceMatch && req.method === "PATCH")
        this.appendTrace(Number(traceMatch[1]), rec);
      return new Response(scripted.body ?? null, { status: scripted.status, headers: scripted.headers });
    }
    if (req.method === "PATCH" && traceMatch) return this.appendTrace(Number(traceMatch[1]), rec);
    if (req.method === "PUT" && /^jobs\/\d+$/.test(path)) return new Response(null, { status: 200 });
    if (req.method === "POST" && path === "jobs/request") return new Response(null, { status: 204 });
    return new Response(`no fake for ${route}`, { status: 404 });
  }

  private appendTrace(jobId: number, rec: RecordedRequest): Response {
    const range = rec.headers.get("Content-Range") ?? "";
    const m = /^(\d+)-(\d+)$/.exec(range);
    if (!m) return new Response(`bad Content-Range "${range}"`, { status: 400 });
    const start = Number(m[1]);
    if (Number(m[2]) !== start + rec.body.length - 1)
      return new Response(`Content-Range "${range}" does not match ${rec.body.length} bytes`, {
        status: 400,
      });
    const have = this.trace(jobId);
    if (start > have.length || (this.opts.strictAppend && start !== have.length))
      return new Response(null, { status: 416, headers: { Range: `0-${have.length}` } });
    const next = new Uint8Array(start + rec.body.length);
    next.set(have.subarray(0, start));
    next.set(rec.body, start);
    this.traces.set(jobId, next);
    return new Response(null, { status: 202, headers: { Range: `0-${next.length}` } });
  }
}

/** Request body as text / JSON, for assertions. */
export function bodyText(r: RecordedRequest): string {
  return decoder.decode(r.body);
}

export function bodyJson(r: RecordedRequest): Record<string, unknown> {
  return JSON.parse(bodyText(r)) as Record<string, unknown>;
}
