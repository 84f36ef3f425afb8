// GCS V2 signed URLs checked cryptographically with the key's public half (no GCS emulator
// verifies signatures): the signature covers verb, content type, expiry, x-goog headers and the
// object, so any change to them breaks verification.
import { describe, expect, test } from "bun:test";
import { createVerify, generateKeyPairSync } from "node:crypto";
import { gcsPutHeaders, gcsStringToSign, signGcsV2 } from "./gcs-sign.ts";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const base = {
  accessId: "runner@project.iam.gserviceaccount.com",
  privateKey: pem,
  bucket: "ci-cache",
  objectName: "runner/abc/project/7/deps key",
  expiresAt: new Date("2030-01-01T00:00:00Z"),
};
const verifies = (toSign: string, url: string) =>
  createVerify("RSA-SHA256")
    .update(toSign)
    .verify(publicKey, new URL(url).searchParams.get("Signature")!, "base64");

describe("GCS V2 signed URLs", () => {
  test("a GET URL carries GoogleAccessId, Expires and a signature the public key verifies", () => {
    const { url } = signGcsV2({ ...base, method: "GET" });
    const u = new URL(url);
    expect(`${u.origin}${u.pathname}`).toBe(
      "https://storage.googleapis.com/ci-cache/runner/abc/project/7/deps%20key",
    );
    expect(u.searchParams.get("GoogleAccessId")).toBe(base.accessId);
    expect(u.searchParams.get("Expires")).toBe("1893456000");
    expect(verifies(gcsStringToSign({ ...base, method: "GET" }), url)).toBe(true);
    // The same signature does not hold for PUT, another object, or a later expiry.
    expect(verifies(gcsStringToSign({ ...base, method: "PUT" }), url)).toBe(false);
    expect(
      verifies(gcsStringToSign({ ...base, method: "GET", objectName: "runner/abc/project/8/x" }), url),
    ).toBe(false);
    expect(
      verifies(gcsStringToSign({ ...base, method: "GET", expiresAt: new Date("2031-01-01Z") }), url),
    ).toBe(false);
  });

  test("a PUT signs application/octet-stream and the x-goog headers the uploader must send", () => {
    const headers = gcsPutHeaders("deps", 1000);
    const input = { ...base, method: "PUT" as const, contentType: "application/octet-stream", headers };
    const signed = signGcsV2({ ...input, emulatorHost: "http://127.0.0.1:4443" });
    expect(signed.url.startsWith("https://127.0.0.1:4443/ci-cache/")).toBe(true);
    expect(signed.headers).toEqual({
      "x-goog-meta-cachekey": "deps",
      "x-goog-content-length-range": "0,1000",
      "Content-Type": "application/octet-stream",
    });
    expect(gcsStringToSign(input)).toBe(
      "PUT\n\napplication/octet-stream\n1893456000\nx-goog-content-length-range:0,1000\nx-goog-meta-cachekey:deps\n/ci-cache/runner/abc/project/7/deps key",
    );
    expect(verifies(gcsStringToSign(input), signed.url)).toBe(true);
    expect(verifies(gcsStringToSign({ ...input, headers: gcsPutHeaders("deps", 0) }), signed.url)).toBe(
      false,
    );
  });
});
