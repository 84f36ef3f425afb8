// known_hosts matching: names with ports, hashed names, patterns, changed and revoked keys.
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { checkHostKey, knownHostsName } from "./known-hosts.ts";

const key = Buffer.from("the-server-key");
const other = Buffer.from("another-key");
const b64 = key.toString("base64");
const salt = Buffer.from("0123456789abcdef0123");
const hashed = (name: string) =>
  `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;

describe("checkHostKey", () => {
  test.each([
    ["plain host on port 22", `example.org ssh-ed25519 ${b64}`, "example.org", 22, key, "ok"],
    ["[host]:port on another port", `[example.org]:2222 ssh-ed25519 ${b64}`, "example.org", 2222, key, "ok"],
    [
      "a port-22 entry does not name port 2222",
      `example.org ssh-ed25519 ${b64}`,
      "example.org",
      2222,
      key,
      "unknown",
    ],
    ["one of several names", `a.org,example.org ssh-ed25519 ${b64}`, "example.org", 22, key, "ok"],
    ["a wildcard pattern", `*.org ssh-ed25519 ${b64}`, "example.org", 22, key, "ok"],
    ["a negated name wins", `*.org,!example.org ssh-ed25519 ${b64}`, "example.org", 22, key, "unknown"],
    ["a hashed name", `${hashed("[10.0.0.1]:2200")} ssh-ed25519 ${b64}`, "10.0.0.1", 2200, key, "ok"],
    ["a changed key", `example.org ssh-ed25519 ${b64}`, "example.org", 22, other, "mismatch"],
    [
      "any matching line suffices",
      `example.org ssh-rsa AAAA\nexample.org ssh-ed25519 ${b64}`,
      "example.org",
      22,
      key,
      "ok",
    ],
    [
      "a revoked key",
      `@revoked example.org ssh-ed25519 ${b64}\nexample.org ssh-ed25519 ${b64}`,
      "example.org",
      22,
      key,
      "revoked",
    ],
    [
      "cert-authority lines are skipped",
      `@cert-authority example.org ssh-ed25519 ${b64}`,
      "example.org",
      22,
      key,
      "unknown",
    ],
    ["comments and blanks", `# example.org ssh-ed25519 ${b64}\n\n`, "example.org", 22, key, "unknown"],
  ] as const)("%s", (_name, text, host, port, presented, want) => {
    const v = checkHostKey(text, host, port, presented);
    expect(v.ok ? "ok" : v.reason).toBe(want);
  });

  test("names the host as known_hosts spells it", () => {
    expect(knownHostsName("h", 22)).toBe("h");
    expect(knownHostsName("h", 2222)).toBe("[h]:2222");
  });
});
