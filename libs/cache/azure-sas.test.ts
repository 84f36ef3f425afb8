// Azure SAS URLs against Azurite over HTTPS, which verifies them: a write SAS stores the blob with
// the Put Blob headers, a read SAS gets it back; a SAS signed with another key, for another blob,
// expired, read-only used for PUT, or with its permissions tampered with is refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, startAzurite } from "../../tests/infra/azurite.ts";
import { azureBlobSas, azureBlobUrl, azurePutHeaders, azureSasStringToSign } from "./azure-sas.ts";

let azurite: Azurite;
beforeAll(async () => {
  azurite = await startAzurite();
  await azurite.createContainer("ci-cache");
});
afterAll(async () => {
  await azurite?.stop();
});

const HOUR = 3600_000;
const blob = "runner/abc12345/project/7/deps key";
const sasFor = (o: { blob?: string; permissions: "r" | "w"; key?: string; expiry?: Date }) =>
  azureBlobSas({
    accountName: AZURITE_ACCOUNT,
    accountKey: o.key ?? AZURITE_KEY,
    container: "ci-cache",
    blob: o.blob ?? blob,
    permissions: o.permissions,
    start: new Date(Date.now() - HOUR),
    expiry: o.expiry ?? new Date(Date.now() + HOUR),
  });
const urlOf = (b = blob) =>
  azureBlobUrl({
    accountName: AZURITE_ACCOUNT,
    storageDomain: azurite.domain,
    container: "ci-cache",
    blob: b,
  });
const put = (sas: string, b = blob, body = "cache-bytes") =>
  fetch(`${urlOf(b)}?${sas}`, {
    method: "PUT",
    headers: { ...azurePutHeaders("deps key"), "Content-Type": "application/octet-stream" },
    body,
    tls: { ca: azurite.ca },
  });
const get = (sas: string, b = blob) => fetch(`${urlOf(b)}?${sas}`, { tls: { ca: azurite.ca } });

describe("Azure blob SAS (pure)", () => {
  test("the URL: account host for Azure, account path for an emulator domain", () => {
    expect(azureBlobUrl({ accountName: "acct", container: "c", blob: "p/7/a b" })).toBe(
      "https://acct.blob.core.windows.net/c/p/7/a%20b",
    );
    expect(
      azureBlobUrl({
        accountName: "acct",
        storageDomain: "blob.core.chinacloudapi.cn",
        container: "c",
        blob: "k",
      }),
    ).toBe("https://acct.blob.core.chinacloudapi.cn/c/k");
    expect(
      azureBlobUrl({ accountName: "acct", storageDomain: "localhost:10000", container: "c", blob: "k" }),
    ).toBe("https://localhost:10000/acct/c/k");
  });

  test("the SAS: https only, a blob resource, start an hour back, the permission asked", () => {
    const q = new URLSearchParams(
      azureBlobSas({
        accountName: "acct",
        accountKey: AZURITE_KEY,
        container: "c",
        blob: "k",
        permissions: "w",
        start: new Date("2030-01-01T00:00:00.123Z"),
        expiry: new Date("2030-01-01T02:00:00Z"),
      }),
    );
    expect(Object.fromEntries([...q].filter(([k]) => k !== "sig"))).toEqual({
      sv: "2023-11-03",
      spr: "https",
      st: "2030-01-01T00:00:00Z",
      se: "2030-01-01T02:00:00Z",
      sr: "b",
      sp: "w",
    });
    expect(
      azureSasStringToSign({
        accountName: "acct",
        accountKey: AZURITE_KEY,
        container: "c",
        blob: "k",
        permissions: "w",
        start: new Date("2030-01-01T00:00:00Z"),
        expiry: new Date("2030-01-01T02:00:00Z"),
      }),
    ).toBe(
      "w\n2030-01-01T00:00:00Z\n2030-01-01T02:00:00Z\n/blob/acct/c/k\n\n\nhttps\n2023-11-03\nb\n\n\n\n\n\n\n",
    );
  });
});

describe("Azure blob SAS against Azurite", () => {
  test("a write SAS stores the blob as a block blob with its cache key; a read SAS gets it", async () => {
    const stored = await put(sasFor({ permissions: "w" }));
    expect(stored.status).toBe(201);
    const got = await get(sasFor({ permissions: "r" }));
    expect(got.status).toBe(200);
    expect(await got.text()).toBe("cache-bytes");
    expect(got.headers.get("x-ms-blob-type")).toBe("BlockBlob");
    expect(got.headers.get("x-ms-meta-cachekey")).toBe("deps%20key");
    expect(Date.parse(got.headers.get("last-modified") ?? "")).toBeGreaterThan(0);
  });

  test("a missing blob is a 404, as the cache extractor expects", async () => {
    const res = await get(
      sasFor({ permissions: "r", blob: "runner/abc12345/project/7/none" }),
      "runner/abc12345/project/7/none",
    );
    expect(res.status).toBe(404);
  });

  test("refused: another key, another blob, expired, read-only for PUT, tampered permissions", async () => {
    const wrongKey = Buffer.from("not-the-account-key-0123456789abcdef").toString("base64");
    expect((await put(sasFor({ permissions: "w", key: wrongKey }))).status).toBe(403);
    // Signed for one blob, used for another (another project's cache).
    expect((await put(sasFor({ permissions: "w" }), "runner/abc12345/project/8/steal")).status).toBe(403);
    expect((await get(sasFor({ permissions: "r", expiry: new Date(Date.now() - 60_000) }))).status).toBe(403);
    expect((await put(sasFor({ permissions: "r" }))).status).toBe(403);
    const tampered = sasFor({ permissions: "r" }).replace("sp=r", "sp=rw");
    expect((await put(tampered)).status).toBe(403);
    // None of them changed the stored blob.
    expect(await (await get(sasFor({ permissions: "r" }))).text()).toBe("cache-bytes");
  });
});
