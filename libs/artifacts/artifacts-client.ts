// The two artifact calls of the Runner API (runner-api.md (a) endpoint table, (d) "Artifacts
// upload" / "Artifacts download"; GitLab Runner's network/gitlab.go and commands/helpers/
// artifacts_{uploader,downloader}.go). Upload: multipart field `file`, JOB-TOKEN, query
// expire_in / artifact_format / artifact_type only when set; 201 ok, 307 moves the base URL and
// retries, 403 and 413 are final, 503 gets up to 6 tries and anything else 3. Download: the
// dependency's own token, `direct_download=true` on the first try, redirects followed by hand so
// the job token never reaches object storage; 401/403/404 are final, others get 2 more tries.
// Both go through the transfer meter ("Uploading artifacts" / "Downloading artifacts") when
// TRANSFER_METER_FREQUENCY is set: the upload body is streamed (with its Content-Length) so the
// meter counts bytes as they leave, not as a file is read into memory.
import { createWriteStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type MeterOutput, meteredStream, startMeter, type TransferMeter } from "./transfer-meter.ts";

/** TRANSFER_METER_FREQUENCY for one call: where the lines go and how often. */
export interface MeterSettings {
  out?: MeterOutput;
  frequencyMs: number;
}

export interface UploadRequest {
  /** The runner entry's GitLab URL (`[[runners]] url`). */
  baseUrl: string;
  jobId: number;
  token: string;
  filePath: string;
  fileName: string;
  expireIn?: string;
  artifactFormat?: string;
  artifactType?: string;
  signal?: AbortSignal;
  /** Pause before retry `n` (0-based); GitLab: 1–5 s. */
  retryDelayMs?: (retry: number) => number;
  meter?: MeterSettings;
}

export interface TransferResult {
  ok: boolean;
  /** One line per attempt, in GitLab Runner's words, for the job log. */
  lines: string[];
  /** Why it failed, when it did. */
  error?: string;
}

/** GitLab Runner's URL normalisation: no trailing `/` nor `/ci`, then /api/v4/. */
export function apiUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "").replace(/\/ci$/, "")}/api/v4/${path}`;
}

const defaultUploadDelay = (retry: number) => Math.min(1000 * 2 ** retry, 5000);

/** multipart/form-data with the one field `file`, as a stream of known length. */
function multipartBody(
  filePath: string,
  fileName: string,
  meter: TransferMeter,
): { body: ReadableStream<Uint8Array>; length: number; type: string } {
  const boundary = `runmesh${crypto.randomUUID().replaceAll("-", "")}`;
  const quoted = fileName.replaceAll('"', "%22").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const file = Bun.file(filePath);
  const length = head.length + statSync(filePath).size + tail.length;
  const parts = (async function* () {
    yield head;
    for await (const chunk of file.stream()) yield chunk;
    yield tail;
  })();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await parts.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  });
  return { body: meteredStream(body, meter), length, type: `multipart/form-data; boundary=${boundary}` };
}

export async function uploadArtifact(req: UploadRequest): Promise<TransferResult> {
  const lines: string[] = [];
  const query = new URLSearchParams();
  if (req.expireIn) query.set("expire_in", req.expireIn);
  if (req.artifactFormat) query.set("artifact_format", req.artifactFormat);
  if (req.artifactType) query.set("artifact_type", req.artifactType);
  const qs = query.size > 0 ? `?${query}` : "";
  let base = req.baseUrl;
  const delay = req.retryDelayMs ?? defaultUploadDelay;
  let error = "";
  for (let attempt = 0; ; attempt++) {
    let status = 0;
    let location = "";
    let text = "";
    const meter = startMeter(req.meter?.out, "Uploading artifacts", 0, req.meter?.frequencyMs ?? 0);
    try {
      const { body, length, type } = multipartBody(req.filePath, req.fileName, meter);
      const res = await fetch(apiUrl(base, `jobs/${req.jobId}/artifacts${qs}`), {
        method: "POST",
        headers: { "JOB-TOKEN": req.token, "Content-Type": type, "Content-Length": String(length) },
        body,
        redirect: "manual",
        signal: req.signal,
      });
      status = res.status;
      location = res.headers.get("location") ?? "";
      text = await res.text();
    } catch (e) {
      if (req.signal?.aborted) return { ok: false, lines, error: "upload aborted" };
      error = (e as Error).message;
    } finally {
      meter.stop();
    }
    const tag = `id=${req.jobId} responseStatus=${status === 0 ? "error" : status}`;
    if (status === 201) {
      lines.push(
        `Uploading artifacts as "${req.artifactType || "archive"}" to coordinator... 201 Created  ${tag}`,
      );
      return { ok: true, lines };
    }
    let limit = 3;
    if (status === 307 && location !== "") {
      const to = new URL(location, base);
      base = `${to.protocol}//${to.host}`;
      lines.push(`Uploading artifacts to coordinator... 307 Temporary Redirect  ${tag} location=${base}`);
      error = `redirected to ${base}`;
    } else if (status === 403) {
      lines.push(`Uploading artifacts to coordinator... 403 Forbidden  ${tag}`);
      return { ok: false, lines, error: `job ${req.jobId}: artifacts upload forbidden (403)` };
    } else if (status === 413) {
      lines.push(
        `Uploading artifacts as "${req.artifactType || "archive"}" to coordinator... too large archive  ${tag}`,
      );
      return {
        ok: false,
        lines,
        error: `job ${req.jobId}: artifacts archive ${req.fileName} is too large for GitLab (413); raise the instance's maximum artifacts size or upload less`,
      };
    } else if (status !== 0) {
      if (status === 503) limit = 6;
      error = `${status} ${text.slice(0, 200)}`.trim();
      lines.push(`Uploading artifacts to coordinator... ${status}  ${tag}`);
    } else lines.push(`Uploading artifacts to coordinator... error  ${tag} error=${error}`);
    if (attempt + 1 >= limit)
      return { ok: false, lines, error: `job ${req.jobId}: artifacts upload failed: ${error}` };
    lines.push("Retrying...");
    await Bun.sleep(delay(attempt));
  }
}

export interface DownloadRequest {
  baseUrl: string;
  /** The dependency's id and token (payload `dependencies[]`). */
  jobId: number;
  token: string;
  outPath: string;
  directDownload: boolean;
  signal?: AbortSignal;
  retryDelayMs?: number;
  meter?: MeterSettings;
}

const FINAL: Record<number, string> = { 401: "unauthorized", 403: "forbidden", 404: "not found" };

export async function downloadArtifact(req: DownloadRequest): Promise<TransferResult> {
  const lines: string[] = [];
  let error = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await Bun.sleep(req.retryDelayMs ?? 1000);
    const direct = req.directDownload && attempt === 0 ? "?direct_download=true" : "";
    let status = 0;
    try {
      let res = await fetch(apiUrl(req.baseUrl, `jobs/${req.jobId}/artifacts${direct}`), {
        headers: { "JOB-TOKEN": req.token },
        redirect: "manual",
        signal: req.signal,
      });
      status = res.status;
      const location = res.headers.get("location");
      if ((status === 302 || status === 307 || status === 301 || status === 303) && location) {
        await res.body?.cancel();
        // Object storage: a signed URL, so no job token goes with it.
        res = await fetch(new URL(location, req.baseUrl), { signal: req.signal });
        status = res.status;
      }
      const tag = `id=${req.jobId} responseStatus=${status}`;
      if (status === 200 && res.body) {
        const meter = startMeter(req.meter?.out, "Downloading artifacts", 0, req.meter?.frequencyMs ?? 0);
        try {
          await pipeline(
            Readable.fromWeb(meteredStream(res.body, meter) as never),
            createWriteStream(req.outPath),
          );
        } finally {
          meter.stop();
        }
        lines.push(`Downloading artifacts from coordinator... ok  ${tag}`);
        return { ok: true, lines };
      }
      const text = await res.text();
      const final = FINAL[status];
      lines.push(`Downloading artifacts from coordinator... ${final ?? "failed"}  ${tag}`);
      if (final)
        return {
          ok: false,
          lines,
          error: `job ${req.jobId}: artifacts download ${final} (${status})${errorText(text)}`,
        };
      error = `${status}${errorText(text)}`;
    } catch (e) {
      if (req.signal?.aborted) return { ok: false, lines, error: "download aborted" };
      error = (e as Error).message;
      lines.push(`Downloading artifacts from coordinator... error  id=${req.jobId} error=${error}`);
    }
  }
  return { ok: false, lines, error: `job ${req.jobId}: artifacts download failed: ${error}` };
}

/** GitLab's JSON `message`, or an S3/GCS/Azure XML `<Code>`/`<Message>`. */
function errorText(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof m === "string") return `: ${m}`;
  } catch {}
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  const msg = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
  return code || msg ? `: ${[code, msg].filter(Boolean).join(": ")}` : "";
}
