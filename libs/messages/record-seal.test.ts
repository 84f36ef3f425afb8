// Sealed job records and encrypted stored payloads (record-seal.ts, payload-handover.ts): what a
// worker can read of the jobs KV and the payload store holds no job token, payload or variable,
// and only the records key opens a seal, and only under the job key it was made for.
import { describe, expect, test } from "bun:test";
import { createInprocBus } from "../bus/inproc-bus.ts";
import { newAeadKey } from "./aead.ts";
import { fetchPayload, INLINE_PAYLOAD_MAX_BYTES, PAYLOADS_STORE, stowPayload } from "./payload-handover.ts";
import { jobRecord, openRecord, recordsKey, redactJob, sealJob } from "./record-seal.ts";
import type { AcceptedJob } from "./subjects.ts";

const SECRET = "masked-seal-secret-51ab";
const job: AcceptedJob = {
  jobKey: "abc_7",
  gitlabUrl: "http://gitlab",
  runnerKey: "r",
  runnerName: "r",
  jobId: 7,
  jobToken: "glcbt-seal-job-token",
  timeoutS: 60,
  payload: JSON.stringify({ token: "glcbt-seal-job-token", variables: [{ key: "S", value: SECRET }] }),
  runner: { short_token: "abc12345", url: "http://gitlab", executor: "shell" } as AcceptedJob["runner"],
  systemId: "s",
  leaseId: "l",
  workerId: "w1",
  pollerId: "p",
  acceptedAt: 1,
  tls: {},
};

describe("job records", () => {
  const key = newAeadKey();
  const record = jobRecord(
    { ...job, sealed: sealJob(key, "w1", job) },
    { state: "claimed", workerId: "w1", updatedAt: 0 },
  );

  test("a record holds no token, payload or variable in clear, and the seal gives back the whole job and its worker", () => {
    const clear = JSON.stringify({ ...record, sealed: "" });
    expect([clear.includes(job.jobToken), clear.includes(SECRET)]).toEqual([false, false]);
    expect(record.job).toEqual(redactJob(job));
    expect(Buffer.from(record.sealed, "base64").includes(SECRET)).toBe(false);
    expect(openRecord(key, "abc_7", record)).toMatchObject({
      workerId: "w1",
      job: { jobKey: "abc_7", jobToken: job.jobToken, payload: job.payload },
    });
  });

  test.each([
    ["another key", () => openRecord(newAeadKey(), "abc_7", record)],
    ["another job's key (a seal copied into a forged record)", () => openRecord(key, "abc_8", record)],
    [
      "a flipped byte",
      () => {
        const b = Buffer.from(record.sealed, "base64");
        b[b.length - 1]! ^= 1;
        return openRecord(key, "abc_7", { sealed: b.toString("base64") });
      },
    ],
    ["no seal (a record a worker wrote itself)", () => openRecord(key, "abc_7", { sealed: "" })],
  ])("a seal does not open with %s", (_, attempt) => expect(attempt()).toBeUndefined());

  test("the records key is made once and read back by whoever may read it", async () => {
    const bus = createInprocBus();
    expect(await recordsKey(bus, { create: false })).toBeUndefined();
    const made = await recordsKey(bus, { create: true });
    expect(made?.byteLength).toBe(32);
    expect(await recordsKey(bus, { create: true })).toEqual(made!);
    expect(await recordsKey(bus, { create: false })).toEqual(made!);
    await bus.close();
  });
});

describe("stored payloads", () => {
  test("a payload too big for messages is stored encrypted; only the key that travels with the job reads it", async () => {
    const bus = createInprocBus();
    const big = { ...job, payload: JSON.stringify({ v: SECRET, pad: "x".repeat(INLINE_PAYLOAD_MAX_BYTES) }) };
    const stowed = await stowPayload(bus, big);
    expect(stowed.payloadBlob?.key).toBeDefined();
    const stored = await (await bus.blobs(PAYLOADS_STORE)).get(stowed.payloadBlob!.name);
    expect(Buffer.from(stored!).includes(SECRET)).toBe(false);
    expect(await fetchPayload(bus, stowed)).toEqual({ ok: true, payload: big.payload });
    const wrongKey = {
      ...stowed,
      payloadBlob: { ...stowed.payloadBlob!, key: Buffer.from(newAeadKey()).toString("base64") },
    };
    const refused = await fetchPayload(bus, wrongKey);
    expect(!refused.ok && refused.error).toContain("does not open with the job's payload key");
    await bus.close();
  });

  test("the inline limit counts the payload as it travels, JSON-escaped (a dispatch carries it twice)", async () => {
    const bus = createInprocBus();
    const quotes = '"'.repeat(INLINE_PAYLOAD_MAX_BYTES * 0.75);
    expect((await stowPayload(bus, { ...job, payload: quotes })).payloadBlob).toBeDefined();
    const plain = "x".repeat(INLINE_PAYLOAD_MAX_BYTES * 0.75);
    expect((await stowPayload(bus, { ...job, payload: plain })).payloadBlob).toBeUndefined();
    await bus.close();
  });
});
