import { describe, expect, test } from "bun:test";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultCertsDir, resolveRunnerTls } from "./runner-tls.ts";

const certsDir = await mkdtemp(join(tmpdir(), "runmesh-certs-"));
for (const name of [
  "gitlab.example.com.crt",
  "gitlab.example.com.auth.crt",
  "gitlab.example.com.auth.key",
  "::1.crt",
]) {
  await writeFile(join(certsDir, name), "pem");
}

const runner = (url: string, files: Record<string, string> = {}) => ({ url, ...files });

describe("resolveRunnerTls", () => {
  test("uses <host>.crt, <host>.auth.crt and <host>.auth.key from the certs directory, ignoring the port", () => {
    expect(resolveRunnerTls(runner("https://gitlab.example.com:8443"), certsDir)).toEqual({
      caFile: join(certsDir, "gitlab.example.com.crt"),
      certFile: join(certsDir, "gitlab.example.com.auth.crt"),
      keyFile: join(certsDir, "gitlab.example.com.auth.key"),
    });
  });

  test("explicit tls-*-file keys win over the certs directory", () => {
    const files = { "tls-ca-file": "/ca.pem", "tls-cert-file": "/cert.pem", "tls-key-file": "/key.pem" };
    expect(resolveRunnerTls(runner("https://gitlab.example.com", files), certsDir)).toEqual({
      caFile: "/ca.pem",
      certFile: "/cert.pem",
      keyFile: "/key.pem",
    });
    expect(
      resolveRunnerTls(runner("https://gitlab.example.com", { "tls-ca-file": "/ca.pem" }), certsDir),
    ).toEqual({
      caFile: "/ca.pem",
      certFile: join(certsDir, "gitlab.example.com.auth.crt"),
      keyFile: join(certsDir, "gitlab.example.com.auth.key"),
    });
  });

  test("files that do not exist are not used", () => {
    expect(resolveRunnerTls(runner("https://other.example.com"), certsDir)).toEqual({});
    expect(resolveRunnerTls(runner("https://gitlab.example.com"), join(certsDir, "missing"))).toEqual({});
  });

  test("IPv6 hosts lose their brackets as with Go's url.Hostname()", () => {
    expect(resolveRunnerTls(runner("https://[::1]:8443"), certsDir)).toEqual({
      caFile: join(certsDir, "::1.crt"),
    });
  });
});

test.each([
  [0, "/root", "/etc/gitlab-runner/certs/"],
  [1000, "/home/ci", "/home/ci/.gitlab-runner/certs/"],
])("defaultCertsDir(uid %p) is %p", (uid, home, dir) => {
  expect(defaultCertsDir(uid, home)).toBe(dir);
});
