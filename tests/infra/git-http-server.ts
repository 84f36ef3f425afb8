// A git server over HTTP for tests: `git http-backend` run as CGI behind Bun.serve, on
// 127.0.0.1 and a free port, with GitLab's job-token basic auth (user gitlab-ci-token, password
// the token). Smart HTTP, protocol v0 and v2 (the Git-Protocol header is passed through), and a
// minimal Git LFS batch API (download only) serving objects stored beside each bare repository.
import { mkdir } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";

export interface GitHttpServerOptions {
  /** Directory holding the bare repositories (`<root>/group/project.git`). */
  root: string;
  /**
   * The job token: the only password accepted, with the user `gitlab-ci-token`. A function is
   * asked on every request (GitLab accepts the token of any running job).
   */
  token: string | ((password: string) => boolean);
  /** PEM certificate and key: serve HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
}

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>` or `https://…` (no trailing slash). */
  url: string;
  port: number;
  /** Request paths seen, in order (method and path, no query): for asserting what git asked. */
  requests: string[];
  stop(): Promise<void>;
}

/** Where the server keeps the LFS object `oid` of a bare repository. */
export function lfsObjectPath(repoDir: string, oid: string): string {
  return join(repoDir, "lfs-objects", oid.slice(0, 2), oid.slice(2, 4), oid);
}

export async function storeLfsObject(
  repoDir: string,
  oid: string,
  content: Uint8Array | string,
): Promise<void> {
  const path = lfsObjectPath(repoDir, oid);
  await mkdir(dirname(path), { recursive: true });
  await Bun.write(path, content);
}

const USER = "gitlab-ci-token";

function authorized(req: Request, token: string | ((password: string) => boolean)): string | undefined {
  const header = req.headers.get("authorization") ?? "";
  const m = /^Basic\s+(.+)$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const ok = typeof token === "function" ? token(password) : password === token;
  return user === USER && ok ? user : undefined;
}

export async function startGitHttpServer(options: GitHttpServerOptions): Promise<GitHttpServer> {
  const root = normalize(options.root);
  const requests: string[] = [];

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // git may hold a connection while upload-pack computes a pack.
    idleTimeout: 60,
    ...(options.tls ? { tls: { cert: options.tls.cert, key: options.tls.key } } : {}),
    async fetch(req) {
      const url = new URL(req.url);
      const path = decodeURIComponent(url.pathname);
      requests.push(`${req.method} ${path}`);
      const user = authorized(req, options.token);
      if (!user) {
        return new Response("HTTP Basic: Access denied\n", {
          status: 401,
          headers: { "WWW-Authenticate": 'Basic realm="GitLab"', "Content-Type": "text/plain" },
        });
      }
      if (path.split("/").includes("..")) return new Response("bad path\n", { status: 400 });

      const lfs = /^(\/.+\.git)\/(info\/lfs\/objects\/batch|gitlab-lfs\/objects\/([0-9a-f]{64}))$/.exec(path);
      if (lfs) return serveLfs(req, url, root, lfs[1]!, lfs[3]);
      return runHttpBackend(req, url, path, root, user);
    },
  });

  const port = server.port;
  if (port === undefined) throw new Error("git http server: Bun.serve did not report a port");
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    requests,
    stop: async () => {
      await server.stop(true);
    },
  };
}

async function runHttpBackend(
  req: Request,
  url: URL,
  path: string,
  root: string,
  user: string,
): Promise<Response> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/",
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: path,
    QUERY_STRING: url.search.replace(/^\?/, ""),
    REQUEST_METHOD: req.method,
    REMOTE_USER: user,
    REMOTE_ADDR: "127.0.0.1",
    SERVER_PROTOCOL: "HTTP/1.1",
    GATEWAY_INTERFACE: "CGI/1.1",
  };
  const contentType = req.headers.get("content-type");
  if (contentType) env.CONTENT_TYPE = contentType;
  const contentLength = req.headers.get("content-length");
  if (contentLength) env.CONTENT_LENGTH = contentLength;
  const encoding = req.headers.get("content-encoding");
  if (encoding) env.HTTP_CONTENT_ENCODING = encoding;
  const protocol = req.headers.get("git-protocol");
  if (protocol) env.GIT_PROTOCOL = protocol;
  if (process.env.GIT_CONFIG_GLOBAL) env.GIT_CONFIG_GLOBAL = process.env.GIT_CONFIG_GLOBAL;

  const proc = Bun.spawn(["git", "http-backend"], { env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });

  // Feed the body while reading the answer, so neither side can block the other.
  const feeding = (async () => {
    try {
      if (req.body) {
        for await (const chunk of req.body) {
          proc.stdin.write(chunk);
          await proc.stdin.flush();
        }
      }
    } finally {
      await proc.stdin.end();
    }
  })().catch(() => {});

  const reader = proc.stdout.getReader();
  let head: Uint8Array = new Uint8Array(0);
  let split = -1;
  let sepLength = 0;
  while (split < 0) {
    const { done, value } = await reader.read();
    if (done) break;
    head = concat(head, value);
    ({ index: split, length: sepLength } = headerEnd(head));
  }
  if (split < 0) {
    await feeding;
    const stderr = await new Response(proc.stderr).text();
    await proc.exited;
    return new Response(`git http-backend gave no CGI headers: ${stderr}\n`, { status: 502 });
  }

  const headers = new Headers();
  let status = 200;
  for (const line of new TextDecoder().decode(head.subarray(0, split)).split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number.parseInt(value, 10) || 200;
    else headers.append(name, value);
  }
  const rest = head.subarray(split + sepLength);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (rest.length > 0) controller.enqueue(rest);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        await feeding;
        await proc.exited;
      } else {
        controller.enqueue(value);
      }
    },
    cancel() {
      proc.kill();
    },
  });
  return new Response(status === 204 || status === 304 ? null : body, { status, headers });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Index of the blank line ending CGI headers (`\r\n\r\n` or `\n\n`), and its length. */
function headerEnd(buf: Uint8Array): { index: number; length: number } {
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 10 && buf[i + 1] === 10) return { index: i, length: 2 };
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10)
      return { index: i, length: 4 };
  }
  return { index: -1, length: 0 };
}

const LFS_TYPE = "application/vnd.git-lfs+json";

async function serveLfs(
  req: Request,
  url: URL,
  root: string,
  repo: string,
  oid: string | undefined,
): Promise<Response> {
  const repoDir = join(root, repo);
  if (oid !== undefined) {
    if (req.method !== "GET") return new Response("method not allowed\n", { status: 405 });
    const file = Bun.file(lfsObjectPath(repoDir, oid));
    if (!(await file.exists())) return new Response("not found\n", { status: 404 });
    return new Response(file, { headers: { "Content-Type": "application/octet-stream" } });
  }
  if (req.method !== "POST") return new Response("method not allowed\n", { status: 405 });
  const batch = (await req.json()) as { operation?: string; objects?: { oid: string; size: number }[] };
  if (batch.operation !== "download") {
    return Response.json({ message: `operation ${batch.operation} is not supported here` }, { status: 422 });
  }
  const auth = req.headers.get("authorization") ?? "";
  const objects = await Promise.all(
    (batch.objects ?? []).map(async ({ oid: id, size }) => {
      if (!/^[0-9a-f]{64}$/.test(id) || !(await Bun.file(lfsObjectPath(repoDir, id)).exists())) {
        return { oid: id, size, error: { code: 404, message: "Object does not exist" } };
      }
      return {
        oid: id,
        size,
        authenticated: true,
        actions: {
          download: {
            href: `${url.origin}${repo}/gitlab-lfs/objects/${id}`,
            header: { Authorization: auth },
          },
        },
      };
    }),
  );
  return new Response(JSON.stringify({ transfer: "basic", objects }), {
    headers: { "Content-Type": LFS_TYPE },
  });
}
