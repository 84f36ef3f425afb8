// The job log masker: GitLab Runner's three masking stages, in its order, as one streaming
// `TraceTransform`: masked variable values, then sensitive URL parameters, then prefixed tokens.
// Each stage decides exactly what it would decide on the whole text at once, whatever the
// write boundaries, so the chain does too. Memory is bounded by the longest phrase/prefix.
//
// One masker per output stream: its held-back bytes belong to that stream's next write.

import { EMPTY, joinPieces } from "./literal-search.ts";
import { PhraseMasker } from "./mask-phrases.ts";
import { TokenPrefixMasker } from "./mask-token-prefixes.ts";
import { UrlParamMasker } from "./mask-url-params.ts";
import type { TraceTransform } from "./trace-buffer.ts";

export { MASK } from "./mask-phrases.ts";
export { SENSITIVE_URL_PARAMS } from "./mask-url-params.ts";

/** Always masked (GitLab personal access tokens). */
export const PAT_PREFIX = "glpat-";

/** Added by `FF_MASK_ALL_DEFAULT_TOKENS` (on by default), as in GitLab Runner 18/19. */
export const DEFAULT_TOKEN_PREFIXES: readonly string[] = [
  "gloas-",
  "gldt-",
  "glrt-",
  "glcbt-",
  "glrtr-",
  "glptt-",
  "glft-",
  "glimt-",
  "glagent-",
  "glsoat-",
  "glffct-",
  "_gitlab_session=",
  "gltok-",
];

/** GitLab Runner builds at most this many prefix masks; the rest are silently ignored. */
export const MAX_TOKEN_PREFIXES = 15;

export interface MaskerOptions {
  /** Expanded values of the job's `masked: true` variables. */
  phrases: readonly string[];
  /** The job's `features.token_mask_prefixes`. */
  tokenPrefixes?: readonly string[];
  /** `FF_MASK_ALL_DEFAULT_TOKENS`; defaults to true like the flag. */
  maskAllDefaultTokens?: boolean;
}

/**
 * GitLab Runner's `Unique`: trimmed, empties dropped, duplicates removed, sorted shortest first
 * (then bytewise). Phrases go through it too, so a value with surrounding spaces is masked
 * without them.
 */
export function uniqueTrimmed(values: readonly string[]): string[] {
  const enc = new TextEncoder();
  const keyed = [...new Set(values.map((v) => v.trim()).filter((v) => v !== ""))].map((v) => ({
    v,
    b: Buffer.from(enc.encode(v)),
  }));
  keyed.sort((x, y) => x.b.length - y.b.length || Buffer.compare(x.b, y.b));
  return keyed.map((k) => k.v);
}

/**
 * The prefixes actually masked: the job's own, `glpat-`, and (with the flag) the defaults,
 * through `uniqueTrimmed`, then the first 15. As in GitLab Runner, the cut keeps the SHORTEST
 * prefixes: many short custom prefixes can push long defaults (`_gitlab_session=`) out.
 */
export function honouredTokenPrefixes(opts: Omit<MaskerOptions, "phrases">): string[] {
  const defaults =
    opts.maskAllDefaultTokens === false ? [PAT_PREFIX] : [PAT_PREFIX, ...DEFAULT_TOKEN_PREFIXES];
  return uniqueTrimmed([...(opts.tokenPrefixes ?? []), ...defaults]).slice(0, MAX_TOKEN_PREFIXES);
}

/** Runs the stages one after another; `flush` drains each into the next. */
export function chainTransforms(stages: readonly TraceTransform[]): TraceTransform {
  return {
    transform(chunk) {
      let b = chunk;
      for (const s of stages) b = s.transform(b);
      return b;
    },
    flush() {
      let b: Uint8Array = EMPTY;
      for (const s of stages) {
        const through = b.length > 0 ? s.transform(b) : EMPTY;
        b = joinPieces([through, s.flush()].filter((p) => p.length > 0));
      }
      return b;
    },
  };
}

/**
 * A streaming masker for one output stream. The output of `transform` may be a view of its
 * input: consume it before the next call.
 */
export function createMasker(opts: MaskerOptions): TraceTransform {
  return chainTransforms([
    new PhraseMasker(uniqueTrimmed(opts.phrases)),
    new UrlParamMasker(),
    new TokenPrefixMasker(honouredTokenPrefixes(opts)),
  ]);
}

/** Masks a whole text in one pass (what the streaming masker must agree with). */
export function maskWhole(text: Uint8Array, opts: MaskerOptions): Uint8Array {
  const m = createMasker(opts);
  return joinPieces([m.transform(text), m.flush()].filter((p) => p.length > 0));
}
