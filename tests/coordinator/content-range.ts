// The trace PATCH's Content-Range as runners send it: `<start>-<end>`, end inclusive, no unit.
// GitLab only uses the start (it computes the end from the body length). GitLab itself parses the
// start with Ruby's `to_i`, so `bytes 100-199/*` silently becomes start 0 and overwrites the log;
// this coordinator rejects such a header instead, so a runner that sends it fails loudly.
export type ContentRange = { ok: true; start: number } | { ok: false; reason: string };

const RUNNER_FORMAT = /^(\d+)-(\d+)$/;

export function parseContentRangeStart(header: string): ContentRange {
  const match = RUNNER_FORMAT.exec(header.trim());
  if (!match) {
    return { ok: false, reason: `Content-Range "${header}" is not "<start>-<end>" (no unit, end inclusive)` };
  }
  return { ok: true, start: Number(match[1]) };
}
