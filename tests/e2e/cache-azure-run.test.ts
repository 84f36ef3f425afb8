// The Azure cache end to end: `runmesh run` as a real process (poller, scheduler, worker and
// cache-signer on its bus) with a runner entry whose [runners.cache] is Azure, against Azurite over
// HTTPS, which verifies every SAS. A shell job's cache goes to Azure through a write SAS; with the
// local archives gone, the next job restores it through a read SAS; the account key is in no log
// line or job trace, and the worker's URLs carry a SAS for their one blob only.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, startAzurite } from "../infra/azurite.ts";
import { type RunProcess, startRunProcess } from "./run-process.ts";

const TOKEN = "glrt-cache-azure-run-0123456789";
const root = mkdtempSync(join(tmpdir(), "runmesh-cache-azure-"));
const cacheDir = join(root, "cache");
let azurite: Azurite;
let run: RunProcess;

beforeAll(async () => {
  azurite = await startAzurite();
  await azurite.createContainer("runner-cache");
  // GitLab signs Azure SAS for HTTPS only; the process trusts Azurite's throwaway certificate.
  process.env.NODE_EXTRA_CA_CERTS = azurite.caFile;
  const extra = [
    `cache_dir = ${JSON.stringify(cacheDir)}`,
    "[runners.cache]",
    'Type = "azure"',
    'Path = "mesh"',
    "[runners.cache.azure]",
    `AccountName = "${AZURITE_ACCOUNT}"`,
    `AccountKey = "${AZURITE_KEY}"`,
    'ContainerName = "runner-cache"',
    `StorageDomain = "${azurite.domain}"`,
  ].join("\n");
  run = await startRunProcess({ runners: [{ name: "azure-cached", token: TOKEN, extra }] });
});

afterAll(async () => {
  await run?.stop();
  await azurite?.stop();
  delete process.env.NODE_EXTRA_CA_CERTS;
  rmSync(root, { recursive: true, force: true });
});

const traceOf = (r: { trace: Uint8Array }) => new TextDecoder().decode(r.trace);

describe("runmesh run with an Azure cache", () => {
  test("saved to Azurite by one job, restored from it by the next; the account key is nowhere", async () => {
    await run.proc.waitFor("cache-signer serving");
    const saver = run.coordinator.enqueueJob(TOKEN, {
      projectId: 515,
      gitStrategy: "none",
      script: ["mkdir -p .deps && echo from-azure-$CI_JOB_ID > .deps/lib"],
      cache: [{ key: "deps-non_protected", paths: [".deps"], policy: "pull-push" }],
    });
    const saved = await run.coordinator.waitForFinal(saver.id, 60_000);
    const saveTrace = traceOf(saved);
    expect(saved.status).toBe("success");
    expect(saveTrace).toContain(
      `Uploading cache.zip to https://${azurite.domain}/${AZURITE_ACCOUNT}/runner-cache/mesh/runner/`,
    );
    expect(saveTrace).toContain("/project/515/deps-non_protected");
    expect(saveTrace).toContain("Created cache");
    expect(saveTrace).not.toContain("sig=");

    rmSync(cacheDir, { recursive: true, force: true });
    expect(existsSync(cacheDir)).toBe(false);
    const reader = run.coordinator.enqueueJob(TOKEN, {
      projectId: 515,
      gitStrategy: "none",
      script: ["cat .deps/lib"],
      cache: [{ key: "deps-non_protected", paths: [".deps"], policy: "pull" }],
    });
    const read = await run.coordinator.waitForFinal(reader.id, 60_000);
    const readTrace = traceOf(read);
    expect(read.status).toBe("success");
    expect(readTrace).toContain(`Downloading cache from https://${azurite.domain}/`);
    expect(readTrace).toContain("Successfully extracted cache");
    expect(readTrace).toContain(`from-azure-${saver.id}\n`);

    expect(run.proc.lines.filter((l) => l.includes("cache URL signed")).length).toBeGreaterThanOrEqual(2);
    for (const text of [...run.proc.lines, saveTrace, readTrace])
      expect(text.includes(AZURITE_KEY)).toBe(false);
  });
});
