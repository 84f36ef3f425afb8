// planRegistration, the pure core of `runmesh register`: which flow a token takes, and how each
// option lands in the new [[runners]] entry (or why it is refused), row by row.
import { describe, expect, test } from "bun:test";
import type { OptionValues } from "../cli/option-table.ts";
import { planRegistration } from "./register.ts";

const base = { url: "https://gitlab.example.com", token: "glrt-abc", executor: "shell" };
const plan = (o: OptionValues) => planRegistration(o, { hostname: "host-1" });

describe("flow by token", () => {
  test.each([
    [{ token: "glrt-abc" }, { kind: "verify", token: "glrt-abc" }],
    [
      { token: undefined, "registration-token": "glrt-abc" },
      { kind: "verify", token: "glrt-abc" },
    ],
    [{ token: "legacy-runner" }, { kind: "verify", token: "legacy-runner" }],
    [
      { token: undefined, "registration-token": "GR1348941x" },
      { kind: "register", registrationToken: "GR1348941x" },
    ],
  ])("%p → %p", (tokens, flow) => {
    const p = plan({ ...base, ...tokens });
    expect(p.ok && p.flow).toMatchObject(flow);
  });

  test("registration parameters: defaults as register.go (locked, untagged without tags, description = hostname)", () => {
    const p = plan({ url: base.url, "registration-token": "GR1348941x", executor: "shell" });
    expect(p.ok && p.flow.kind === "register" && p.flow.parameters).toEqual({
      description: "host-1",
      maintenanceNote: undefined,
      tagList: undefined,
      runUntagged: true,
      locked: true,
      accessLevel: undefined,
      maximumTimeout: undefined,
      paused: false,
    });
  });
});

describe("the entry", () => {
  test.each([
    [{}, { name: "host-1", url: base.url, executor: "shell" }],
    [{ description: "r1" }, { name: "r1" }],
    [
      { shell: "sh", "builds-dir": "/b", "cache-dir": "/c", "clone-url": "http://x" },
      { shell: "sh", builds_dir: "/b", cache_dir: "/c", clone_url: "http://x" },
    ],
    [
      { limit: "3", "request-concurrency": "2", "output-limit": "8192" },
      { limit: 3, request_concurrency: 2, output_limit: 8192 },
    ],
    [{ env: ["A=1", "B=2"] }, { environment: ["A=1", "B=2"] }],
    [{ "tls-ca-file": "/ca.pem" }, { "tls-ca-file": "/ca.pem" }],
    [
      {
        executor: "docker",
        "docker-image": "alpine",
        "docker-volumes": ["/data:/data", "/x:/cache"],
        "docker-pull-policy": ["if-not-present"],
        "docker-privileged": true,
      },
      {
        docker: {
          image: "alpine",
          privileged: true,
          volumes: ["/data:/data", "/x:/cache"],
          pull_policy: ["if-not-present"],
        },
      },
    ],
    [
      { executor: "ssh", "ssh-host": "h", "ssh-user": "u", "ssh-port": "2222", "ssh-identity-file": "/k" },
      { ssh: { host: "h", user: "u", port: "2222", identity_file: "/k" } },
    ],
  ])("%p → %p", (extra, entry) => {
    const p = plan({ ...base, ...extra });
    if (!p.ok) throw new Error(p.message);
    expect(p.entry).toMatchObject(entry);
    expect(p.entry).not.toHaveProperty("token");
  });

  test.each([
    [{ url: undefined }, "The url needs to be entered"],
    [{ token: undefined }, "The token needs to be entered"],
    [{ executor: undefined }, "The executor needs to be entered"],
    [{ executor: "docker" }, "The docker-image needs to be entered"],
    [{ executor: "ssh", "ssh-user": "u" }, "The ssh-host needs to be entered"],
    [{ limit: "many" }, '--limit: expected a whole number, got "many"'],
    [{ "ssh-host": "h" }, "--ssh-host does not apply to the shell executor"],
    [{ "maintenance-note": "n" }, "reserved (--maintenance-note)"],
    [{ "run-untagged": true }, "reserved (--run-untagged)"],
  ])("%p is refused: %s", (extra, message) => {
    const p = plan({ ...base, ...extra });
    expect(p.ok ? "accepted" : p.message).toContain(message);
  });

  test("--locked (true) is GitLab Runner's default, so it is not a reserved option", () => {
    expect(plan({ ...base, locked: true }).ok).toBe(true);
  });
});
