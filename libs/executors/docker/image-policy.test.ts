import { describe, expect, test } from "bun:test";
import {
  globMatch,
  imageBaseName,
  resolvePullPolicies,
  serviceAliases,
  verifyAllowedImage,
} from "./image-policy.ts";

describe("allowed_images wildcards (doublestar.Match, as GitLab Runner)", () => {
  test.each([
    ["ruby:*", "ruby:3.3", true],
    ["ruby:*", "ruby", false],
    ["*", "alpine", true],
    ["*", "library/alpine", false],
    ["*/*", "library/alpine", true],
    ["**", "registry.example.com/a/b:1", true],
    ["registry.example.com/**", "registry.example.com/group/sub/img:tag", true],
    ["registry.example.com/*", "registry.example.com/group/sub/img:tag", false],
    ["python:3.1?", "python:3.12", true],
    ["python:3.1?", "python:3.1", false],
    ["{alpine,busybox}:latest", "busybox:latest", true],
    ["node:[0-9]*", "node:20", true],
    ["node:[!0-9]*", "node:20", false],
    ["a.b", "axb", false],
  ])("%s matches %s: %p", (pattern, name, want) => {
    expect(globMatch(pattern, name)).toBe(want);
  });

  test("a refused image gets GitLab Runner's lines; the runner's own image is always allowed", () => {
    expect(verifyAllowedImage("evil:1", "images", ["ruby:*", "python:*"], ["alpine"])).toEqual({
      lines: [
        "",
        "ERROR: The evil:1 is not present on list of allowed images",
        "- ruby:*",
        "- python:*",
        "",
        "Please check runner's configuration: http://doc.gitlab.com/ci/docker/using_docker_images.html#overwrite-image-and-services",
      ],
      error: "invalid image",
    });
    expect(verifyAllowedImage("alpine", "images", ["ruby:*"], ["alpine"])).toBe(true);
    expect(verifyAllowedImage("anything", "services", [], [])).toBe(true);
  });
});

describe("pull policies", () => {
  test.each([
    [[], ["always"], undefined, { policies: ["always"] }],
    [["if-not-present"], ["always"], ["always", "if-not-present"], { policies: ["if-not-present"] }],
    [["never", "always"], ["always"], ["always", "never"], { policies: ["never", "always"] }],
    [[], ["if-not-present", "always"], undefined, { policies: ["if-not-present", "always"] }],
    [
      ["never"],
      ["always"],
      undefined,
      {
        error:
          'invalid pull policy for image "alpine": pull_policy ([never]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([always])',
      },
    ],
    [
      [],
      ["always"],
      ["never"],
      {
        error:
          'invalid pull policy for image "alpine": pull_policy ([always]) defined in Runner config is not one of the allowed_pull_policies ([never])',
      },
    ],
  ] as const)("job %p, runner %p, allowed %p → %p", (job, runner, allowed, want) => {
    expect(
      resolvePullPolicies({ image: "alpine", job, runner: [...runner], allowed: allowed && [...allowed] }),
    ).toEqual(want as never);
  });
});

describe("service aliases", () => {
  test.each([
    ["tutum/wordpress:latest", "", ["tutum-wordpress", "tutum__wordpress"]],
    ["postgres:16", "db,pg", ["postgres", "db", "pg"]],
    ["redis", "cache store", ["redis", "cache", "store"]],
    // A registry host with a port makes no valid host name: only the given aliases remain.
    ["127.0.0.1:5000/x/web:1", "web", ["web"]],
  ])("%s with alias %p → %p", (name, alias, want) => {
    expect(serviceAliases(name, alias)).toEqual(want);
  });

  test("base names drop tag and digest, not a registry port", () => {
    expect(imageBaseName("reg:5000/a/b:1")).toBe("reg:5000/a/b");
    expect(imageBaseName("reg:5000/a/b")).toBe("reg:5000/a/b");
    expect(imageBaseName("a@sha256:abc")).toBe("a");
  });
});
