import { describe, expect, test } from "bun:test";
import { parseJobPayload } from "./payload.ts";

function ok(raw: unknown) {
  const r = parseJobPayload(JSON.stringify(raw));
  if (!r.ok) throw new Error(`expected a valid payload, got: ${r.error}`);
  return r.job;
}

function err(raw: unknown): string {
  const r = parseJobPayload(JSON.stringify(raw));
  if (r.ok) throw new Error("expected a validation error");
  return r.error;
}

describe("parseJobPayload", () => {
  test("missing and null fields become zero values", () => {
    const job = ok({ id: 1, token: null, git_info: null, variables: null, image: null });
    expect(job.token).toBe("");
    expect(job.git_info).toMatchObject({ repo_url: "", depth: 0, refspecs: [], sha: "" });
    expect(job.variables).toEqual([]);
    expect(job.image).toMatchObject({ name: "", entrypoint: [], executor_opts: {} });
    expect(job.features).toMatchObject({ trace_sections: false, failure_reasons: [] });
    expect(job.runner_info.timeout).toBe(0);
    expect(job.allow_git_fetch).toBe(false);
  });

  test("unknown keys are ignored at every level", () => {
    const job = ok({
      id: 2,
      brand_new: true,
      job_info: { name: "n", future: 1 },
      variables: [{ key: "A", value: "1", extra: 2 }],
    });
    expect(job.job_info.name).toBe("n");
    expect(job.variables).toEqual([
      { key: "A", value: "1", public: false, file: false, masked: false, raw: false },
    ]);
  });

  test("null inside a variable becomes its zero value", () => {
    const job = ok({ variables: [{ key: "A", value: null, file: null }] });
    expect(job.variables[0]).toMatchObject({ value: "", file: false });
  });

  test("a wrong type is an error naming the field", () => {
    expect(err({ id: "seven" })).toContain("id");
    expect(err({ git_info: { depth: "1" } })).toContain("git_info.depth");
  });

  test("undecodable JSON is an error", () => {
    expect(parseJobPayload("{not json").ok).toBe(false);
  });

  test("the allowed executor_opts pass", () => {
    const job = ok({
      image: {
        name: "alpine",
        executor_opts: { docker: { platform: "linux/arm64", user: 1000 }, kubernetes: { user: "1000:1000" } },
      },
      services: [{ name: "postgres", executor_opts: { docker: { user: "pg" } } }],
    });
    expect(job.image.executor_opts.docker?.user).toBe(1000);
    expect(job.services[0]?.executor_opts.docker?.user).toBe("pg");
  });

  test.each([
    [
      { image: { name: "a", executor_opts: { docker: { privileged: true } } } },
      `invalid "image" executor_opts: unsupported options [docker.privileged]`,
    ],
    [
      { image: { name: "a", executor_opts: { podman: {} } } },
      `invalid "image" executor_opts: unsupported options [podman]`,
    ],
    [
      { services: [{ name: "s", executor_opts: { kubernetes: { group: "x" } } }] },
      `invalid "services.0" executor_opts: unsupported options [kubernetes.group]`,
    ],
  ])("unknown executor_opts are a pickup error: %j", (raw, message) => {
    const e = err(raw);
    expect(e).toContain(message);
    expect(e).toContain("supported options are [docker.platform docker.user kubernetes.user]");
  });

  test("run together with script steps is an error", () => {
    expect(err({ run: "[]", steps: [{ name: "script", script: ["echo"] }] })).toContain(`both "run"`);
  });

  test("run with only after_script, or without steps, is accepted", () => {
    expect(ok({ run: "[]" }).run).toBe("[]");
  });

  test("run with a user STEPS variable is an error", () => {
    expect(err({ run: "[]", variables: [{ key: "STEPS", value: "x" }] })).toContain("STEPS");
  });
});
