/**
 * GitLab Runner's fixCIURL: trailing slashes go, then one trailing "/ci" (old registration
 * instructions said ".../ci"), so "https://gitlab.example.com/ci///" is "https://gitlab.example.com".
 */
export function normalizeGitLabUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return hasLegacyCiSuffix(trimmed) ? trimmed.slice(0, -"/ci".length) : trimmed;
}

/** GitLab Runner 18.7+'s WarnOnLegacyCIURL test: "/ci" at the end, trailing slashes aside. */
export function hasLegacyCiSuffix(url: string): boolean {
  return url.replace(/\/+$/, "").endsWith("/ci");
}

/** GitLab Runner speaks only HTTP(S) to GitLab ("only http or https scheme supported"). */
export function isHttpUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const { protocol, hostname } = new URL(url);
  return (protocol === "http:" || protocol === "https:") && hostname !== "";
}
