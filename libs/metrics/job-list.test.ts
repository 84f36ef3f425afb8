import { describe, expect, test } from "bun:test";
import { formatJobList, jobUrl } from "./job-list.ts";

describe("/debug/jobs/list lines as GitLab Runner writes them", () => {
  test("one line per job, duration in Go's format", () => {
    const text = formatJobList(
      [
        {
          url: "https://gl/g/p/-/jobs/7",
          state: "running",
          stage: "unknown",
          executorStage: "unknown",
          startedAt: 1_000,
        },
        {
          url: "https://gl/g/q/-/jobs/8",
          state: "pending",
          stage: "unknown",
          executorStage: "unknown",
          startedAt: 61_500,
        },
      ],
      63_000,
    );
    expect(text).toBe(
      "url=https://gl/g/p/-/jobs/7 state=running stage=unknown executor_stage=unknown duration=1m2s\n" +
        "url=https://gl/g/q/-/jobs/8 state=pending stage=unknown executor_stage=unknown duration=1.5s\n",
    );
  });
  test("no job, no line", () => expect(formatJobList([], 5)).toBe(""));

  const urls: [string | undefined, string][] = [
    ["https://gitlab-ci-token:secret@gl.example/g/p.git", "https://gl.example/g/p/-/jobs/42"],
    ["https://gl.example/g/p", "https://gl.example/g/p/-/jobs/42"],
    [undefined, "https://gl.example/-/jobs/42"],
  ];
  for (const [repo, want] of urls)
    test(`job URL from ${repo ?? "no repo_url"}: credentials and .git removed`, () =>
      expect(jobUrl(repo, "https://gl.example/", 42)).toBe(want));
});
