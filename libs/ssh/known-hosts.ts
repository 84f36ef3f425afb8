// known_hosts matching, as golang.org/x/crypto/ssh/knownhosts does for GitLab Runner's ssh
// executor (helpers/ssh: strict checking unless disable_strict_host_key_checking): a host is
// named `host` on port 22 and `[host]:port` otherwise, plainly or hashed (`|1|salt|hmac`);
// a key for the host that differs is a changed key, no key at all an unknown host, and both are
// refused (no trust on first use). `@revoked` keys are refused; `@cert-authority` lines are skipped
// (runmesh verifies plain host keys only). Pure: the connector reads the file and decides.
import { createHmac } from "node:crypto";

export type HostKeyVerdict =
  | { ok: true }
  | { ok: false; reason: "unknown" | "mismatch" | "revoked"; message: string };

/** The name a host carries in known_hosts for this port. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Checks `key` (the server's raw public key blob) for `host:port` against known_hosts text. */
export function checkHostKey(text: string, host: string, port: number, key: Uint8Array): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const presented = Buffer.from(key).toString("base64");
  let known = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]?.startsWith("@")) marker = fields.shift();
    const [hosts, , blob] = fields;
    if (!hosts || !blob || marker === "@cert-authority") continue;
    if (!hostsMatch(hosts, name)) continue;
    if (marker === "@revoked") {
      if (blob === presented)
        return { ok: false, reason: "revoked", message: `the host key of ${name} is marked @revoked` };
      continue;
    }
    known = true;
    if (blob === presented) return { ok: true };
  }
  return known
    ? {
        ok: false,
        reason: "mismatch",
        message: `the host key of ${name} does not match the one in known_hosts (it changed, or another machine answers)`,
      }
    : { ok: false, reason: "unknown", message: `${name} is not in known_hosts` };
}

/** A comma-separated host list (patterns `*`/`?`, negation `!`, hashed entries) against `name`. */
function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const pattern of hosts.split(",")) {
    const negated = pattern.startsWith("!");
    if (wildcard(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function wildcard(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(name);
}
