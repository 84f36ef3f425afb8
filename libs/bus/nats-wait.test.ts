import { describe, expect, test } from "bun:test";
import { connectWhenReachable, retryDelayMs, waitReason } from "./nats-wait.ts";

describe("waitReason", () => {
  const refused = Object.assign(new Error("connection refused"), {
    cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
  });
  test.each([
    [
      "nats.js refused (wrapped by connectNatsBus)",
      new Error("cannot connect…", { cause: refused }),
      "connection refused",
    ],
    [
      "compose DNS before nats is up",
      Object.assign(new Error("getaddrinfo ENOTFOUND nats"), { code: "ENOTFOUND" }),
      "name not resolved",
    ],
    ["DNS code only in the message", new Error("getaddrinfo EAI_AGAIN nats"), "name not resolved yet"],
    ["a timeout", new Error("timeout"), "connection timed out"],
    ["wrong password", new Error("Authorization Violation"), undefined],
    ["TLS without the CA", new Error("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), undefined],
    ["missing creds file", new Error("NATS credentials file /x: ENOENT: no such file"), undefined],
  ])("%s", (_name, err, want) => {
    expect(waitReason(err)).toBe(want);
  });
});

test("retries back off 1 s, 2 s, 4 s, then every 5 s", () => {
  expect([1, 2, 3, 4, 5, 50].map(retryDelayMs)).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
});

test("waits through refusals with one line per attempt, then connects", async () => {
  const lines: string[] = [];
  const slept: number[] = [];
  let calls = 0;
  const bus = await connectWhenReachable(
    async () => {
      if (++calls < 3) throw Object.assign(new Error("connection refused"), { code: "ECONNREFUSED" });
      return "bus";
    },
    {
      url: "nats://nats:4222",
      logger: { warn: (_o, m) => lines.push(m), info: (_o, m) => lines.push(m) },
      sleep: async (ms) => {
        slept.push(ms);
      },
    },
  );
  expect(bus).toBe("bus");
  expect(slept).toEqual([1000, 2000]);
  expect(lines).toEqual([
    "waiting for NATS at nats://nats:4222: connection refused; retrying in 1s",
    "waiting for NATS at nats://nats:4222: connection refused; retrying in 2s",
    "NATS at nats://nats:4222 is reachable",
  ]);
});

test("a mistake (wrong password) is thrown at once, not waited on", async () => {
  let calls = 0;
  const attempt = connectWhenReachable(
    async () => {
      calls++;
      throw new Error("Authorization Violation");
    },
    { url: "nats://x:4222", logger: { warn() {}, info() {} }, sleep: async () => {} },
  );
  await expect(attempt).rejects.toThrow("Authorization Violation");
  expect(calls).toBe(1);
});
