// Sign decisions for Azure and for FF_HASH_CACHE_KEYS naming (pure): the SAS permission follows the
// operation, Put Blob headers come with PUT, missing settings are refusals naming the runner; a
// hashed request names the sharded hash of one of the job's own keys and nothing else.
import { describe, expect, test } from "bun:test";
import { hashCacheKey } from "../../libs/cache/cache-key.ts";
import { openedJobRecordSchema } from "../../libs/messages/subjects.ts";
import { decideSign, type SignerCache, type SignRequest } from "./sign-decision.ts";

const payload = JSON.stringify({
  id: 9,
  token: "t",
  job_info: { name: "build", project_id: 31 },
  git_info: { ref: "main" },
  runner_info: { timeout: 600 },
  variables: [],
  cache: [{ key: "deps-non_protected", paths: ["vendor"], policy: "pull-push" }],
});
const record = openedJobRecordSchema.parse({
  state: "running",
  workerId: "w1",
  updatedAt: 0,
  sealed: "",
  job: {
    jobKey: "h_9",
    gitlabUrl: "http://gitlab",
    runnerKey: "r",
    runnerName: "r",
    jobId: 9,
    jobToken: "t",
    timeoutS: 600,
    payload,
    runner: { short_token: "short1234", url: "http://gitlab", executor: "shell" },
    systemId: "s",
    leaseId: "l",
    workerId: "w1",
    pollerId: "p",
    acceptedAt: 0,
    tls: {},
  },
});
const azure: SignerCache = {
  Type: "azure",
  Shared: false,
  azure: { AccountName: "acct", AccountKey: "a2V5LWZvci10ZXN0cw==", ContainerName: "cache" },
};
const now = new Date("2030-05-01T12:00:00Z");
const decide = (req: Partial<SignRequest>, cache: SignerCache = azure) =>
  decideSign({
    req: { workerId: "w1", jobKey: "h_9", key: "deps-non_protected", op: "get", ...req },
    record,
    cacheFor: () => cache,
    now,
  });

describe("Azure decisions", () => {
  test("GET gets a read SAS for the job's blob, PUT a write SAS and the Put Blob headers", () => {
    const get = decide({ op: "get" });
    const put = decide({ op: "put" });
    if (!get.ok || !put.ok) throw new Error("refused");
    const g = new URL(get.url);
    expect(`${g.origin}${g.pathname}`).toBe(
      "https://acct.blob.core.windows.net/cache/runner/short1234/project/31/deps-non_protected",
    );
    expect(g.searchParams.get("sp")).toBe("r");
    expect(g.searchParams.get("spr")).toBe("https");
    expect(g.searchParams.get("st")).toBe("2030-05-01T11:00:00Z");
    expect(g.searchParams.get("se")).toBe("2030-05-01T12:10:00Z");
    expect(get.headers).toEqual({});
    expect(new URL(put.url).searchParams.get("sp")).toBe("w");
    expect(put.headers).toEqual({
      "x-ms-blob-type": "BlockBlob",
      "x-ms-meta-cachekey": "deps-non_protected",
    });
  });

  test.each([
    [
      { ...azure, azure: { ...azure.azure, ContainerName: "" } },
      "[runners.cache.azure] ContainerName is empty",
    ],
    [
      { ...azure, azure: { ...azure.azure, AccountKey: undefined } },
      "Azure needs AccountName and AccountKey",
    ],
  ])("refuses a cache without what it needs: %#", (cache, why) => {
    const d = decide({}, cache);
    expect(!d.ok && d.reason).toContain("runner short1234");
    expect(!d.ok && d.reason).toContain(why);
  });
});

describe("FF_HASH_CACHE_KEYS naming", () => {
  test("a hashed request names the sharded hash of the job's key", () => {
    const sha = hashCacheKey("deps-non_protected");
    const d = decide({ hashed: true });
    expect(d.ok && d.objectName).toBe(`runner/short1234/project/31/${sha.slice(0, 2)}/${sha}`);
    // The metadata keeps the human key, as GitLab's does.
    const put = decide({ hashed: true, op: "put" });
    expect(put.ok && put.headers["x-ms-meta-cachekey"]).toBe("deps-non_protected");
  });

  test("hashing does not open other keys: another project's key is refused either way", () => {
    for (const hashed of [false, true]) {
      const d = decide({ key: "other-project-key", hashed });
      expect(!d.ok && d.reason).toContain("not one of this job's cache keys");
    }
  });
});
