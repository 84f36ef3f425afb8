// `runmesh run` reloads [runners.cache] like the rest of config.toml: started without any signed
// cache it runs no signer; once the file gains an S3 cache the signer starts, and a later change
// of its settings reaches the running signer. The secret is in no log line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type RunProcess, startRunProcess } from "./run-process.ts";

const TOKEN = "glrt-cache-signer-reload-0123456789";
const SECRET = "reload-secret-abcdef123456";
let run: RunProcess;

beforeAll(async () => {
  run = await startRunProcess({ runners: [{ name: "plain", token: TOKEN }] });
});
afterAll(async () => {
  await run?.stop();
});

const s3 = (bucket: string) =>
  [
    "[runners.cache]",
    'Type = "s3"',
    "[runners.cache.s3]",
    'ServerAddress = "127.0.0.1:9"',
    `BucketName = "${bucket}"`,
    'AccessKey = "AKIARELOAD"',
    `SecretKey = "${SECRET}"`,
  ].join("\n");

describe("runmesh run and a reloaded [runners.cache]", () => {
  test("the signer starts when a reload adds a signed cache, and takes later changes", async () => {
    expect(run.proc.lines.some((l) => l.includes("cache-signer serving"))).toBe(false);
    run.rewrite({ concurrent: 2, runners: [{ name: "plain", token: TOKEN, extra: s3("one") }] });
    await run.proc.waitFor("cache-signer serving", 15_000);
    run.rewrite({ concurrent: 2, runners: [{ name: "plain", token: TOKEN, extra: s3("two") }] });
    await run.proc.waitFor("caches reloaded", 15_000);
    expect(run.proc.lines.some((l) => l.includes(SECRET))).toBe(false);
  });
});
