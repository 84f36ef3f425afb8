// GitLab's artifact routes for the test coordinator (lib/api/ci/runner.rb `POST/GET
// jobs/:id/artifacts`, runner-api.md (a) endpoint table). Upload: job token of a running job,
// multipart field `file`, 400 when it is missing or a parameter is not one GitLab knows, 413 over
// the project's maximum artifacts size, 201 otherwise. Download: GitLab's
// authenticate_job_via_dependent_job! — the token of a running job that has :id among its
// dependencies (what GitLab sends as each dependency's `token`), 404 without an archive; with
// `direct_download=true` a 302 to "object storage" (an unguessable URL served here without any
// token, as a presigned URL would be), else the bytes themselves.
import type { CoordinatorJob, RequestRecord } from "./coordinator.ts";

export interface StoredArtifact {
  fileName: string;
  bytes: Uint8Array;
  artifactType: string;
  artifactFormat: string;
  expireIn: string | undefined;
}

export interface ArtifactStore {
  /** Job id → its uploads, in arrival order. */
  readonly uploads: Map<number, StoredArtifact[]>;
  /** GitLab's max_artifacts_size (default 100 MB); over it uploads get 413. */
  maxBytes: number;
  /** Object-storage URLs handed out by 302s, by path. */
  readonly objects: Map<string, Uint8Array>;
}

type Auth = { ok: true; job: CoordinatorJob } | { ok: false; response: Response };

interface Deps {
  jobs: Map<number, CoordinatorJob>;
  authenticateJob(id: number, token: string | undefined): Auth;
}

// Ci::JobArtifact file types GitLab accepts from runners (a subset: the common ones).
const ARTIFACT_TYPES = new Set([
  "archive",
  "metadata",
  "junit",
  "sast",
  "dependency_scanning",
  "container_scanning",
  "dast",
  "codequality",
  "license_scanning",
  "performance",
  "metrics",
  "metrics_referee",
  "network_referee",
  "lsif",
  "dotenv",
  "cobertura",
  "terraform",
  "accessibility",
  "cluster_applications",
  "secret_detection",
  "requirements",
  "coverage_fuzzing",
  "browser_performance",
  "load_performance",
  "api_fuzzing",
  "cyclonedx",
  "annotations",
  "repository_xray",
  "jacoco",
]);
const ARTIFACT_FORMATS = new Set(["zip", "gzip", "raw"]);

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export function artifactRoutes(deps: Deps) {
  const store: ArtifactStore = { uploads: new Map(), maxBytes: 100 * 1024 * 1024, objects: new Map() };

  async function upload(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord, id: number) {
    const token = req.headers.get("job-token") ?? url.searchParams.get("token") ?? undefined;
    const auth = deps.authenticateJob(id, token);
    if (!auth.ok) return auth.response;
    const type = url.searchParams.get("artifact_type") ?? "archive";
    const format = url.searchParams.get("artifact_format") ?? "zip";
    if (!ARTIFACT_TYPES.has(type)) return json(400, { error: "artifact_type does not have a valid value" });
    if (!ARTIFACT_FORMATS.has(format))
      return json(400, { error: "artifact_format does not have a valid value" });
    // GitLab checks the declared length first (Workhorse would stream it to storage).
    if (raw.length > store.maxBytes + 64 * 1024)
      return json(413, { message: "413 Request Entity Too Large" });
    let form: Awaited<ReturnType<Response["formData"]>>;
    try {
      form = await new Response(raw, {
        headers: { "content-type": req.headers.get("content-type") ?? "" },
      }).formData();
    } catch {
      return json(400, { message: "400 Bad request - Missing artifacts file!" });
    }
    const file = form.get("file");
    if (!(file instanceof Blob)) return json(400, { message: "400 Bad request - Missing artifacts file!" });
    if (file.size > store.maxBytes) return json(413, { message: "413 Request Entity Too Large" });
    const stored: StoredArtifact = {
      fileName: file instanceof File ? file.name : "",
      bytes: new Uint8Array(await file.arrayBuffer()),
      artifactType: type,
      artifactFormat: format,
      expireIn: url.searchParams.get("expire_in") ?? undefined,
    };
    rec.body = {
      file: stored.fileName,
      bytes: stored.bytes.length,
      type,
      format,
      expire_in: stored.expireIn,
    };
    store.uploads.set(id, [...(store.uploads.get(id) ?? []), stored]);
    return json(201, { id, name: auth.job.spec.name ?? "", status: auth.job.status });
  }

  function download(req: Request, url: URL, id: number) {
    const token = req.headers.get("job-token") ?? url.searchParams.get("token") ?? undefined;
    const current = [...deps.jobs.values()].find((j) => j.token === token);
    if (!current) return json(403, { message: "403 Forbidden" });
    const auth = deps.authenticateJob(current.id, token);
    if (!auth.ok) return auth.response;
    const listed = (current.payload.dependencies as { id?: unknown }[] | undefined) ?? [];
    if (!listed.some((d) => d.id === id)) return json(403, { message: "403 Forbidden" });
    const archive = store.uploads.get(id)?.find((a) => a.artifactType === "archive");
    if (!archive) return json(404, { message: "404 Not Found" });
    if (url.searchParams.get("direct_download") === "true") {
      const path = `/__objects/artifacts/${id}/${crypto.randomUUID()}`;
      store.objects.set(path, archive.bytes);
      return new Response(null, { status: 302, headers: { Location: `${url.origin}${path}` } });
    }
    return new Response(archive.bytes, {
      status: 200,
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": `attachment; filename=${archive.fileName}`,
      },
    });
  }

  /** The response for an artifact route, or undefined when the request is not one. */
  async function handle(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord) {
    const object = store.objects.get(url.pathname);
    if (object && req.method === "GET") return new Response(object, { status: 200 });
    const m = /^\/api\/v4\/jobs\/([^/]+)\/artifacts$/.exec(url.pathname);
    if (!m?.[1]) return undefined;
    if (!/^\d+$/.test(m[1])) return json(400, { error: "id is invalid" });
    if (req.method === "POST") return upload(req, url, raw, rec, Number(m[1]));
    if (req.method === "GET") return download(req, url, Number(m[1]));
    return json(405, { message: "405 Method Not Allowed" });
  }

  return { store, handle };
}
