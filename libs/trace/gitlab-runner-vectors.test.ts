// GitLab Runner 19.4's own table tests for the job log, run against runmesh's implementation:
// masking (masker, urlsanitizer, tokensanitizer, the whole build logger) and timestamps. The
// vectors are data in ./vectors/, each naming the Go test it comes from; the commit is in
// ./vectors/gitlab-runner-commit.ts. Each masking stage is run alone, write by write, as the Go
// test runs its writer, and then the stage chain is run on the same writes.
import { describe, expect, test } from "bun:test";
import { MASK_BYTES, PhraseMasker } from "./mask-phrases.ts";
import { TokenPrefixMasker } from "./mask-token-prefixes.ts";
import { UrlParamMasker } from "./mask-url-params.ts";
import { createMasker, honouredTokenPrefixes, uniqueTrimmed } from "./masking.ts";
import { type Clock, createTimestampedWriter } from "./timestamps.ts";
import type { TraceTransform } from "./trace-buffer.ts";
import { GITLAB_RUNNER_COMMIT } from "./vectors/gitlab-runner-commit.ts";
import {
  BUILD_LOGGER_VECTORS,
  PHRASE_VECTORS,
  type SplitWriteVector,
  TOKEN_PREFIX_VECTORS,
  URL_PARAM_VECTORS,
} from "./vectors/masking.ts";
import { TIMESTAMP_VECTORS, type TimestampVector } from "./vectors/timestamps.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Writes `input` split at '|' (as the Go tests do), then flushes; the bytes that came out. */
function run(stage: TraceTransform, input: string): string {
  const out: Uint8Array[] = [];
  // Copies: a stage's output may be a view of its input, valid until the next call.
  for (const part of input.split("|")) out.push(new Uint8Array(stage.transform(enc.encode(part))));
  out.push(new Uint8Array(stage.flush()));
  return dec.decode(Buffer.concat(out));
}

const label = (v: SplitWriteVector) => `${v.goTest}: ${JSON.stringify(v.input.slice(0, 70))}`;

test("the vectors are GitLab Runner 19.4's (main at VERSION 19.4.0)", () => {
  expect(GITLAB_RUNNER_COMMIT).toMatch(/^[0-9a-f]{40}$/);
  expect(MASK_BYTES).toEqual(enc.encode("[MASKED]"));
});

describe("masked values (masker)", () => {
  test.each(PHRASE_VECTORS.map((v) => [label(v), v] as const))("%s", (_, v) => {
    expect(run(new PhraseMasker(uniqueTrimmed(v.values)), v.input)).toBe(v.expected);
    expect(run(createMasker({ phrases: v.values, maskAllDefaultTokens: false }), v.input)).toBe(v.expected);
  });
});

describe("URL parameters (urlsanitizer)", () => {
  test.each(URL_PARAM_VECTORS.map((v) => [label(v), v] as const))("%s", (_, v) => {
    expect(run(new UrlParamMasker(), v.input)).toBe(v.expected);
    expect(run(createMasker({ phrases: [] }), v.input)).toBe(v.expected);
  });
});

describe("whole build logger", () => {
  test.each(BUILD_LOGGER_VECTORS.map((v) => [label(v), v] as const))("%s", (_, v) => {
    expect(run(createMasker({ phrases: [] }), v.input)).toBe(v.expected);
  });
});

describe("token prefixes (tokensanitizer)", () => {
  test.each(TOKEN_PREFIX_VECTORS.map((v) => [v.goTest, v] as const))("%s", (_, v) => {
    const prefixes = honouredTokenPrefixes({ tokenPrefixes: v.prefixes, maskAllDefaultTokens: true });
    expect(run(new TokenPrefixMasker(prefixes), v.input)).toBe(v.expected);
    expect(run(createMasker({ phrases: [], tokenPrefixes: v.prefixes }), v.input)).toBe(v.expected);
  });
});

/** Epoch ms of an RFC 3339 UTC time with microseconds (Date.parse keeps only milliseconds). */
function epochMs(iso: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)\.(\d{6})Z$/.exec(iso);
  if (!m) throw new Error(`not a µs UTC time: ${iso}`);
  return Date.parse(`${m[1]}Z`) + Number(m[2]) / 1000;
}

function clockOf(v: TimestampVector): Clock {
  if ("readsIso" in v.clock) {
    const reads = v.clock.readsIso.map(epochMs);
    let i = 0;
    return () => reads[i++]!;
  }
  let t = epochMs(v.clock.startIso);
  const step = v.clock.stepMs;
  return () => {
    t += step;
    return t;
  };
}

describe("timestamps (timestamper)", () => {
  test.each(TIMESTAMP_VECTORS.map((v) => [v.goTest, v] as const))("%s", (_, v) => {
    const out: Uint8Array[] = [];
    const w = createTimestampedWriter((b) => out.push(new Uint8Array(b)), { clock: clockOf(v) });
    for (const s of v.writes) w.write(v.streamId, v.type, enc.encode(s));
    w.end(v.streamId, v.type);
    if (v.closeTwice) w.end(v.streamId, v.type);
    expect(dec.decode(Buffer.concat(out))).toBe(v.expected.join(""));
  });
});
