// What the signer takes from config.toml: each S3-cache entry's short token and cache table with
// its credentials; the worker's view of the same entry has none of them.
import { describe, expect, test } from "bun:test";
import { parseConfig, shortToken } from "../../libs/config/index.ts";
import { signerCaches } from "./main.ts";

const toml = `
concurrent = 1
[[runners]]
name = "s3"
url = "https://gitlab.example.com"
token = "glrt-signer-config-0123456789"
executor = "shell"
[runners.cache]
Type = "s3"
Shared = true
[runners.cache.s3]
ServerAddress = "127.0.0.1:9000"
BucketName = "b"
AccessKey = "AKIAEXAMPLE"
SecretKey = "super-secret-value"
[[runners]]
name = "local"
url = "https://gitlab.example.com"
token = "glrt-local-only-0123456789"
executor = "shell"
`;

describe("signerCaches", () => {
  test("only S3-cache entries, by short token, credentials kept for the signer alone", () => {
    const { config } = parseConfig(toml, { source: "signer.toml", hostname: "h" });
    const caches = signerCaches(config);
    expect([...caches.keys()]).toEqual([shortToken("glrt-signer-config-0123456789")]);
    const only = [...caches.values()][0]!;
    expect(only.s3?.SecretKey).toBe("super-secret-value");
    expect(only.Shared).toBe(true);
    expect([...caches.keys()][0]).not.toContain("glrt-signer-config-0123456789");
    expect(caches.size).toBe(1);
  });
});
