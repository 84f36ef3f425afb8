// GitLab Runner's helpers.ShortenToken: the runner's "short token" names it in logs, in
// CI_RUNNER_SHORT_TOKEN, in builds_dir paths and in the non-shared cache key prefix.
// Known prefixes are stripped in this order, then the first 9 characters are kept.
const PREFIXES = [
  /^glrt-(t[123]_)?|^t[123]_|^glrtr-/, // runner authentication tokens (t1_/t2_/t3_: partition prefix)
  /^glcbt-/, // CI job token
  /^GR[0-9A-Fa-f]{7}/, // legacy registration token with its rotation date
];

const SHORT_TOKEN_LENGTH = 9;

export function shortToken(token: string): string {
  let rest = token;
  for (const prefix of PREFIXES) rest = rest.replace(prefix, "");
  return rest.slice(0, SHORT_TOKEN_LENGTH);
}
