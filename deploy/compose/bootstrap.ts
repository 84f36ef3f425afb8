// What compose.yaml needs before its first `up` (issue 13): nats-server's config with one user per
// tier and one per worker (the allow-lists of scripts/nats-identities.ts, generated here so they
// never go stale in a committed copy), random passwords, and the files each container mounts:
//
//   sudo node_modules/.bin/bun deploy/compose/bootstrap.ts [--workers 8] [--secrets secrets] [--config config]
//
// secrets/nats-server/nats.conf   nats-server's config: bcrypt hashes of every password, the
//                                 JetStream store key (cipher chachapoly), the allow-lists, TLS with
//                                 server.pem/server.key beside it (for DNS nats, localhost,
//                                 127.0.0.1). uid 10002.
// secrets/ca.pem                  the CA the tiers verify nats-server with (public; its key is
//                                 dropped once the server certificate is signed).
// secrets/tiers/<tier>.password   one per tier (poller, scheduler, cache-signer, autoscaler), each
//                                 mounted into its own container only. uid 10001 (the image's user).
// secrets/workers/worker-N.password  the pool scaled workers claim from (runmesh-entrypoint, flock):
//                                 root's, read by the worker container's entrypoint before it drops
//                                 to uid 10001, so a job on one worker cannot read another's.
// Every secret 0600. Re-running keeps every password, the store key (the JetStream store stays
// readable) and the certificates (delete secrets/ca.pem for new ones), rewrites the conf from the
// current allow-lists, and grows or shrinks the pool.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { identities, identitiesConf } from "../../scripts/nats-identities.ts";

/** The runmesh image's user (deploy/image/Dockerfile) and the nats image's (nats.Dockerfile). */
export const IMAGE_UID = 10001;
export const NATS_UID = 10002;
export const DEFAULT_POOL = 8;

/** The tiers that connect with a user of their own (every identity that is not a worker's). */
export const TIER_USERS: readonly string[] = identities([]).map((i) => i.user);

export const workerUser = (n: number) => `worker-${n}`;

/** The variable identities.conf names a user's password by (scripts/nats-identities.ts). */
export const passwordVariable = (user: string) =>
  `RUNMESH_NATS_${user.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_PASSWORD`;

/**
 * nats-server's config for compose.yaml. Variables do not cross nats-server's `include`, so the
 * hashes are defined in the same file, ahead of the allow-lists that name them.
 */
export function composeNatsConf(o: {
  workers: readonly string[];
  /** bcrypt hash of each user's password, by user. */
  hashes: Readonly<Record<string, string>>;
  storeKey: string;
}): string {
  const users = [...TIER_USERS, ...o.workers];
  const missing = users.filter((u) => !o.hashes[u]);
  if (missing.length) throw new Error(`composeNatsConf: no password hash for ${missing.join(", ")}`);
  return `# nats-server for compose.yaml, written by deploy/compose/bootstrap.ts: re-run it after upgrading
# runmesh (the allow-lists below come from scripts/nats-identities.ts). Passwords here are bcrypt
# hashes; each tier's own is in secrets/tiers, the workers' pool in secrets/workers. The monitoring
# port listens on the container's loopback only.
${users.map((u) => `${passwordVariable(u)}: ${JSON.stringify(o.hashes[u])}`).join("\n")}
RUNMESH_NATS_STORE_KEY: ${JSON.stringify(o.storeKey)}

listen: 0.0.0.0:4222
http: 127.0.0.1:8222
tls {
  cert_file: "/etc/nats/server.pem"
  key_file: "/etc/nats/server.key"
  timeout: 2
}
jetstream {
  store_dir: "/data/jetstream"
  max_memory_store: 64MB
  max_file_store: 1GB
  cipher: chachapoly
  key: $RUNMESH_NATS_STORE_KEY
}

${identitiesConf(o.workers)}`;
}

export interface BootstrapOptions {
  secretsDir: string;
  /** Worker identities in the pool; default: as many as the pool has, else DEFAULT_POOL. */
  workers?: number;
  /** Copies deploy/image/config.example there (files it lacks only), for uid 10001. */
  configDir?: string;
  /** Ownership as the containers need it (root only); off in a test that runs as another user. */
  chown?: boolean;
  /** bcrypt cost; nats-server checks the hash at each connect. */
  bcryptCost?: number;
}

export interface BootstrapResult {
  workers: string[];
  /** Each user's password, by user (for the caller's tests; never printed). */
  passwords: Record<string, string>;
  natsConf: string;
  /** The CA certificate the tiers verify nats-server with. */
  caFile: string;
}

const newSecret = () => randomBytes(24).toString("base64url");

export async function bootstrapCompose(o: BootstrapOptions): Promise<BootstrapResult> {
  const chown = o.chown ?? process.getuid?.() === 0;
  const own = (path: string, uid: number) => {
    if (chown) chownSync(path, uid, uid);
  };
  const dir = (path: string, uid: number) => {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    chmodSync(path, 0o700);
    own(path, uid);
  };
  const tiersDir = join(o.secretsDir, "tiers");
  const poolDir = join(o.secretsDir, "workers");
  const serverDir = join(o.secretsDir, "nats-server");
  dir(o.secretsDir, 0);
  dir(tiersDir, 0);
  dir(poolDir, 0);
  dir(serverDir, NATS_UID);

  const pool = readdirSync(poolDir).filter((f) => /^worker-\d+\.password$/.test(f)).length;
  const count = o.workers ?? (pool || DEFAULT_POOL);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`--workers: expected an integer ≥ 1, got ${count}`);
  const workers = Array.from({ length: count }, (_, i) => workerUser(i + 1));
  for (const f of readdirSync(poolDir)) {
    const n = /^worker-(\d+)\.password$/.exec(f)?.[1];
    if (n && Number(n) > count) rmSync(join(poolDir, f));
  }

  const passwords: Record<string, string> = {};
  const keep = (path: string, uid: number) => {
    const value = existsSync(path) ? readFileSync(path, "utf8").trim() : "";
    const secret = value || newSecret();
    writeSecret(path, secret, uid);
    return secret;
  };
  const writeSecret = (path: string, value: string, uid: number) => {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${value}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    own(tmp, uid);
    renameSync(tmp, path);
  };
  for (const u of TIER_USERS) passwords[u] = keep(join(tiersDir, `${u}.password`), IMAGE_UID);
  for (const w of workers) passwords[w] = keep(join(poolDir, `${w}.password`), 0);
  const storeKey = keep(join(serverDir, "store.key"), NATS_UID);
  const caFile = join(o.secretsDir, "ca.pem");
  if (!existsSync(caFile) || !existsSync(join(serverDir, "server.pem")))
    issueCertificates({ caFile, serverDir, own: (p) => own(p, NATS_UID) });

  const cost = o.bcryptCost ?? 10;
  const hashes: Record<string, string> = {};
  for (const [u, p] of Object.entries(passwords))
    hashes[u] = await Bun.password.hash(p, { algorithm: "bcrypt", cost });
  const natsConf = composeNatsConf({ workers, hashes, storeKey });
  writeSecret(join(serverDir, "nats.conf"), natsConf.trimEnd(), NATS_UID);

  if (o.configDir) copyExampleConfig(o.configDir, own);
  return { workers, passwords, natsConf, caFile };
}

/** How the tiers reach nats-server: `nats` on compose's network, 127.0.0.1 on the test's host network. */
export const SERVER_NAMES = ["DNS:nats", "DNS:localhost", "IP:127.0.0.1"];

/**
 * A CA and nats-server's certificate (ECDSA P-256, 825 days), by openssl. The CA's key lives only
 * in a temporary directory: nobody can sign another certificate the tiers would trust.
 */
function issueCertificates(o: { caFile: string; serverDir: string; own(path: string): void }): void {
  const t = mkdtempSync(join(tmpdir(), "runmesh-compose-tls-"));
  const openssl = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: t, encoding: "utf8" });
    if (r.error || r.status !== 0)
      throw new Error(`openssl ${args[0]}: ${r.error?.message ?? r.stderr.trim()} (is openssl installed?)`);
  };
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl([
      "req",
      "-x509",
      ...ec,
      "-days",
      "825",
      "-subj",
      "/CN=runmesh compose NATS CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    ]);
    openssl(["req", ...ec, "-subj", "/CN=nats", "-keyout", "server.key", "-out", "server.csr"]);
    writeFileSync(
      join(t, "san.ext"),
      `subjectAltName=${SERVER_NAMES.join(",")}\nextendedKeyUsage=serverAuth\n`,
    );
    openssl([
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "825",
      "-extfile",
      "san.ext",
      "-out",
      "server.pem",
    ]);
    for (const f of ["server.pem", "server.key"]) {
      const to = join(o.serverDir, f);
      copyFileSync(join(t, f), to);
      chmodSync(to, 0o600);
      o.own(to);
    }
    copyFileSync(join(t, "ca.pem"), o.caFile);
    chmodSync(o.caFile, 0o644);
  } finally {
    rmSync(t, { recursive: true, force: true });
  }
}

const EXAMPLE = resolve(import.meta.dir, "../image/config.example");

/** `cp -n`: the user's own config.toml and mesh.toml are never overwritten. */
function copyExampleConfig(configDir: string, own: (p: string, uid: number) => void): void {
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  chmodSync(configDir, 0o700);
  own(configDir, IMAGE_UID);
  for (const f of readdirSync(EXAMPLE)) {
    const to = join(configDir, f);
    if (existsSync(to)) continue;
    copyFileSync(join(EXAMPLE, f), to);
    chmodSync(to, 0o600);
    own(to, IMAGE_UID);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      workers: { type: "string" },
      secrets: { type: "string", default: "secrets" },
      config: { type: "string" },
    },
  });
  if (process.getuid?.() !== 0) {
    console.error(
      "deploy/compose/bootstrap.ts: run as root (sudo): the files go to uid 10001 (tiers), 10002 (nats-server) and root (the workers' pool)",
    );
    process.exit(2);
  }
  const r = await bootstrapCompose({
    secretsDir: resolve(values.secrets),
    workers: values.workers === undefined ? undefined : Number(values.workers),
    configDir: values.config ? resolve(values.config) : undefined,
  });
  console.log(
    `wrote ${values.secrets}/: nats-server config, ${TIER_USERS.length} tier identities, a pool of ${r.workers.length} worker identities (${r.workers[0]}..${r.workers.at(-1)})${values.config ? `; ${values.config}/ from deploy/image/config.example` : ""}`,
  );
}
