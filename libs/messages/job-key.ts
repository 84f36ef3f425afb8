import { createHash } from "node:crypto";

/** A job's mesh-wide identity: GitLab job ids are unique per instance, not across instances. */
export function jobKeyOf(gitlabUrl: string, jobId: number): string {
  const url = createHash("sha256").update(gitlabUrl).digest("hex").slice(0, 12);
  return `${url}_${jobId}`;
}
