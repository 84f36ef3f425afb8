// What sealing a job record costs (libs/messages/record-seal.ts): the scheduler seals every
// dispatched job, the worker's record carries the seal beside the redacted job, and the scheduler
// or the cache-signer opens it. Time per seal and per open, and the record's size against a record
// holding the job in clear, for inline payloads of a few sizes (up to the 128 KiB inline limit).
// Usage: bun bench/record-seal.ts [iterations]
import { newAeadKey } from "../libs/messages/aead.ts";
import { INLINE_PAYLOAD_MAX_BYTES } from "../libs/messages/payload-handover.ts";
import { jobRecord, openRecord, sealJob } from "../libs/messages/record-seal.ts";
import type { AcceptedJob } from "../libs/messages/subjects.ts";

const iterations = Number(process.argv[2] ?? 2000);
const key = newAeadKey();
const job = (payloadBytes: number): AcceptedJob => ({
  jobKey: "0123456789ab_4242",
  gitlabUrl: "https://gitlab.example.com",
  runnerKey: "r",
  runnerName: "docker-1",
  jobId: 4242,
  jobToken: "glcbt-64_0123456789abcdefghij",
  timeoutS: 3600,
  payload: JSON.stringify({ token: "glcbt-64_0123456789abcdefghij", pad: "x".repeat(payloadBytes) }),
  runner: {
    short_token: "abc12345",
    url: "https://gitlab.example.com",
    executor: "shell",
  } as AcceptedJob["runner"],
  systemId: "s_0123456789ab",
  leaseId: "5f0c7a1e-0000-4000-8000-000000000000",
  workerId: "worker-1",
  pollerId: "poller-1",
  acceptedAt: Date.now(),
  tls: {},
});

console.log(`record sealing, ${iterations} iterations each`);
console.log("payload   seal µs  open µs  record bytes (clear → sealed)");
for (const size of [4 * 1024, 32 * 1024, INLINE_PAYLOAD_MAX_BYTES]) {
  const j = job(size);
  let sealed = "";
  let t0 = performance.now();
  for (let i = 0; i < iterations; i++) sealed = sealJob(key, "worker-1", j);
  const sealUs = ((performance.now() - t0) * 1000) / iterations;
  const record = jobRecord({ ...j, sealed }, { state: "running", workerId: "worker-1", updatedAt: 0 });
  t0 = performance.now();
  for (let i = 0; i < iterations; i++) openRecord(key, j.jobKey, record);
  const openUs = ((performance.now() - t0) * 1000) / iterations;
  const clearBytes = JSON.stringify({ state: "running", workerId: "worker-1", job: j, updatedAt: 0 }).length;
  const sealedBytes = JSON.stringify(record).length;
  console.log(
    `${`${size / 1024} KiB`.padEnd(9)} ${sealUs.toFixed(1).padStart(7)}  ${openUs.toFixed(1).padStart(7)}  ${clearBytes} → ${sealedBytes} (×${(sealedBytes / clearBytes).toFixed(2)})`,
  );
}
