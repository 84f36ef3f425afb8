// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the Go expansion syntax under test
// GitLab Runner 19.4's variable table tests (common/spec/variables_test.go, commit in
// libs/trace/vectors/gitlab-runner-commit.ts) run against runmesh's variables.ts. Mapping:
// Go's `Variables.Expand()` is `expandVariables`, `Get(key)` is `lookupForExpansion` (a file
// variable yields its path), `Value(key)` is `findVariable(…)?.value`, `ExpandValue(s)` is
// `expandValue(s, Get)`, `ExpandWith(source)` is `expandValue` with the source's lookup.
//
// Where runmesh differs on purpose: GitLab Runner finds a file variable's directory in the
// RUNNER_TEMP_PROJECT_DIR variable; runmesh derives it from the project dir (`<dir>.tmp`,
// the value GitLab Runner gives that variable), so "/foo/bar/<key>" below reads
// `fileVariablePath(PROJECT, key)`.
// Not ported: TestVariablesJSON, TestVariableString, TestPublicAndInternalVariables,
// TestListVariables, TestOverwriteKey, Test_JobVariables_Set, Test_JobVariables_Dedup and
// TestBoolVariables test Go methods runmesh has no counterpart of (the settings GitLab Runner
// reads as booleans, such as CI_DEBUG_TRACE, go through strconv.ParseBool: `parseGoBool`).
import { describe, expect, test } from "bun:test";
import {
  expandValue,
  expandVariables,
  fileVariablePath,
  findVariable,
  lookupForExpansion,
  maskedValues,
  type Variable,
} from "./variables.ts";

const PROJECT = "/builds/group/project";
const get = (list: readonly Variable[], key: string) => lookupForExpansion(list, PROJECT, key);
const value = (list: readonly Variable[], key: string) => findVariable(list, key)?.value ?? "";
const expandValueOf = (list: readonly Variable[], s: string) => expandValue(s, (k) => get(list, k));

describe("common/spec/variables_test.go", () => {
  test("TestVariablesExpansion: once, against the unexpanded list; later entries win", () => {
    const all: Variable[] = [
      { key: "key", value: "value_of_$public" },
      { key: "public", value: "some_value", public: true },
      { key: "private", value: "value_of_${public}" },
      { key: "public", value: "value_of_$undefined", public: true },
    ];
    const expanded = expandVariables(all, PROJECT);
    expect(expanded).toHaveLength(4);
    expect(get(expanded, "key")).toBe("value_of_value_of_$undefined");
    expect(get(expanded, "public")).toBe("value_of_");
    expect(get(expanded, "private")).toBe("value_of_value_of_$undefined");
    expect(expandValueOf(expanded, "${public} ${private}")).toBe("value_of_ value_of_value_of_$undefined");
  });

  test("TestVariablesExpansionWithSource: references resolve in the source; raw stays", () => {
    const source: Variable[] = [
      { key: "public", value: "public_value", public: true },
      { key: "private", value: "private_value" },
    ];
    const list: Variable[] = [
      { key: "a", value: "$public" },
      { key: "b", value: "${private}" },
      { key: "c", value: "$undefined" },
      { key: "d", value: "$private", raw: true },
    ];
    const expanded = list.map((v) => (v.raw ? v : { ...v, value: expandValueOf(source, v.value) }));
    expect(expanded).toHaveLength(4);
    expect(get(expanded, "a")).toBe("public_value");
    expect(get(expanded, "b")).toBe("private_value");
    expect(get(expanded, "c")).toBe("");
    expect(get(expanded, "d")).toBe("$private");
  });

  test("TestFileVariablesExpansion: a file variable expands to its path; idempotent", () => {
    const all: Variable[] = [
      { key: "a_file_var", value: "some top secret stuff", file: true },
      { key: "ref_file_var", value: "${a_file_var}.txt" },
      { key: "regular_var", value: "bla bla bla" },
      { key: "ref_regular_var", value: "bla bla bla" },
    ];
    const path = fileVariablePath(PROJECT, "a_file_var");
    const validate = (variables: Variable[]) => {
      expect(variables).toHaveLength(4);
      expect(get(variables, "a_file_var")).toBe(path);
      expect(value(variables, "a_file_var")).toBe("some top secret stuff");
      expect(get(variables, "ref_file_var")).toBe(`${path}.txt`);
      expect(value(variables, "ref_file_var")).toBe(`${path}.txt`);
      expect(expandValueOf(variables, "${ref_file_var}.blammo")).toBe(`${path}.txt.blammo`);
      expect(expandValueOf(variables, "${a_file_var}.blammo")).toBe(`${path}.blammo`);
      expect(get(variables, "regular_var")).toBe("bla bla bla");
      expect(get(variables, "ref_regular_var")).toBe("bla bla bla");
      expect(value(variables, "regular_var")).toBe("bla bla bla");
      expect(value(variables, "ref_regular_var")).toBe("bla bla bla");
    };
    const expanded = expandVariables(all, PROJECT);
    validate(expanded);
    validate(expandVariables(expanded, PROJECT));
  });

  test.each<[string, string, string]>([
    ["key", "$$", "$"],
    ["key2", "$/dsa", "$/dsa"],
    ["key3", "aa$@bb", "aabb"],
    ["key4", "aa${@}bb", "aabb"],
  ])("TestSpecialVariablesExpansion: %s = %p expands to %p", (key, raw, expected) => {
    const expanded = expandVariables([{ key, value: raw }], PROJECT);
    expect(get(expanded, key)).toBe(expected);
  });

  test.each<[string, string[], string]>([
    ["defined at job level", ["from-job"], "from-job"],
    ["defined at default and job level", ["from-default", "from-job"], "from-job"],
    ["defined at config, default and job level", ["from-config", "from-default", "from-job"], "from-job"],
    ["defined at config and default level", ["from-config", "from-default"], "from-default"],
    ["defined at config level", ["from-config"], "from-config"],
  ])("TestMultipleUsageOfAKey: %s", (_, values, expected) => {
    expect(
      get(
        values.map((v) => ({ key: "key", value: v })),
        "key",
      ),
    ).toBe(expected);
  });

  test.each<[boolean, string]>([
    [true, "value_of_${base}"],
    [false, "value_of_base_value"],
  ])("TestRawVariableExpansion: raw %p", (raw, expected) => {
    const expanded = expandVariables(
      [
        { key: "base", value: "base_value" },
        { key: "related", value: "value_of_${base}", raw },
      ],
      PROJECT,
    );
    expect(get(expanded, "related")).toBe(expected);
  });

  test("TestMaskedVariables: only masked values are masked", () => {
    const masked = maskedValues(
      {
        variables: [
          { key: "key", value: "key_value", public: false, masked: false },
          { key: "masked", value: "masked_value", public: false, masked: true },
        ],
      } as Parameters<typeof maskedValues>[0],
      {},
    );
    expect(masked).not.toContain("key_value");
    expect(masked).toContain("masked_value");
  });

  test("TestGetVariable: a missing key is empty", () => {
    const all: Variable[] = [
      { key: "key", value: "key_value" },
      { key: "public", value: "public_value", public: true },
      { key: "private", value: "private_value" },
    ];
    expect(get(all, "public")).toBe("public_value");
    expect(get(all, "other")).toBe("");
  });
});

// Go's own os.Expand table (os/env_test.go TestExpand) runs once, against the one implementation:
// libs/config/go-expand-env.test.ts (expandValue is goExpand).
