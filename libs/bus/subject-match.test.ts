import { describe, expect, test } from "bun:test";
import { subjectMatches, subjectProblem } from "./subject-match.ts";

describe("subjectMatches", () => {
  const cases: [string, string, boolean][] = [
    ["a.b.c", "a.b.c", true],
    ["a.b.c", "a.b", false],
    ["a.b", "a.b.c", false],
    ["a.*.c", "a.x.c", true],
    ["a.*.c", "a.x.y.c", false],
    ["a.*", "a", false],
    ["a.>", "a.b", true],
    ["a.>", "a.b.c.d", true],
    ["a.>", "a", false],
    [">", "anything.at.all", true],
    ["*.b.>", "x.b.y", true],
    ["*.b.>", "x.c.y", false],
  ];
  test.each(cases)("%s against %s is %p", (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});

describe("subjectProblem", () => {
  const cases: [string, boolean, string | undefined][] = [
    ["runmesh.worker.w1.dispatch", false, undefined],
    ["runmesh.worker.*.dispatch", true, undefined],
    ["runmesh.>", true, undefined],
    ["runmesh.*", false, "wildcards are not allowed here (publish to a concrete subject)"],
    ["a..b", true, "it has an empty token (leading, trailing or double dot)"],
    ["a.b.", true, "it has an empty token (leading, trailing or double dot)"],
    ["", true, "it is empty"],
    ["a b", true, "it contains whitespace"],
    ["a.>.b", true, '">" must be the last token'],
    ["a.b*", true, '"*" and ">" must be whole tokens, got "b*"'],
  ];
  test.each(cases)("%p (wildcards %p)", (subject, wildcards, expected) => {
    expect(subjectProblem(subject, wildcards)).toBe(expected);
  });
});
