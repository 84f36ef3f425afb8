import { expect, test } from "bun:test";
import { isHttpUrl, normalizeGitLabUrl } from "./gitlab-url.ts";

test.each([
  ["https://gitlab.example.com/ci///", "https://gitlab.example.com"],
  ["https://gitlab.example.com/ci/", "https://gitlab.example.com"],
  ["https://gitlab.example.com/ci", "https://gitlab.example.com"],
  ["https://gitlab.example.com/", "https://gitlab.example.com"],
  ["https://gitlab.example.com", "https://gitlab.example.com"],
  ["https://example.com/gitlab/ci/", "https://example.com/gitlab"],
  ["https://example.com/cicd/", "https://example.com/cicd"],
  ["http://127.0.0.1:8088", "http://127.0.0.1:8088"],
])("normalizeGitLabUrl(%p) is %p", (input, output) => {
  expect(normalizeGitLabUrl(input)).toBe(output);
});

test.each([
  ["https://gitlab.com", true],
  ["http://127.0.0.1:8088/", true],
  ["ftp://gitlab.com", false],
  ["gitlab.com", false],
  ["unix:///var/run/gitlab.sock", false],
  ["", false],
])("isHttpUrl(%p) is %p", (input, ok) => {
  expect(isHttpUrl(input)).toBe(ok);
});
