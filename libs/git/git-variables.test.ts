import { describe, expect, test } from "bun:test";
import { gitVariableValue, parseGitVariables } from "./git-variables.ts";

const defaults = { allowGitFetch: true, depth: 20 };

describe("parseGitVariables", () => {
  test("defaults: strategy from allow_git_fetch, GitLab's clean and fetch flags, submodule depth from git_info.depth", () => {
    const { settings, warnings } = parseGitVariables({}, defaults);
    expect(warnings).toEqual([]);
    expect(settings).toEqual({
      strategy: "fetch",
      checkout: true,
      submoduleStrategy: "none",
      submodulePaths: [],
      submoduleDepth: 20,
      cleanFlags: ["-ffdx"],
      fetchFlags: ["--prune", "--quiet"],
      submoduleUpdateFlags: [],
      lfsSkipSmudge: false,
      submoduleForceHttps: false,
    });
    expect(parseGitVariables({}, { allowGitFetch: false, depth: 0 }).settings.strategy).toBe("clone");
  });

  test.each([
    ["clone", "clone"],
    ["fetch", "fetch"],
    ["none", "none"],
    ["empty", "empty"],
  ] as const)("GIT_STRATEGY=%s is taken", (raw, expected) => {
    expect(parseGitVariables({ GIT_STRATEGY: raw }, defaults).settings.strategy).toBe(expected);
  });

  test("an unknown GIT_STRATEGY falls back to the default with GitLab's warning", () => {
    const { settings, warnings } = parseGitVariables(
      { GIT_STRATEGY: "shallow" },
      { allowGitFetch: false, depth: 0 },
    );
    expect(settings.strategy).toBe("clone");
    expect(warnings).toEqual([
      `GIT_STRATEGY: expected either 'clone', 'fetch', 'none' or 'empty' got "shallow", using default value 'clone'`,
    ]);
  });

  test("none and empty turn checkout and submodules off whatever the variables say", () => {
    for (const strategy of ["none", "empty"]) {
      const { settings } = parseGitVariables(
        { GIT_STRATEGY: strategy, GIT_CHECKOUT: "true", GIT_SUBMODULE_STRATEGY: "recursive" },
        defaults,
      );
      expect(settings.checkout).toBe(false);
      expect(settings.submoduleStrategy).toBe("none");
    }
  });

  test.each([
    ["false", false],
    ["0", false],
    ["TRUE", true],
    ["t", true],
  ] as const)("GIT_CHECKOUT=%s parses as Go's ParseBool", (raw, expected) => {
    expect(parseGitVariables({ GIT_CHECKOUT: raw }, defaults).settings.checkout).toBe(expected);
  });

  test("a non-boolean GIT_CHECKOUT keeps the default and warns", () => {
    const { settings, warnings } = parseGitVariables({ GIT_CHECKOUT: "nope" }, defaults);
    expect(settings.checkout).toBe(true);
    expect(warnings).toEqual([`GIT_CHECKOUT: expected bool got "nope", using default value: true`]);
  });

  test.each([
    ["GIT_CLEAN_FLAGS", "none", "cleanFlags", []],
    ["GIT_CLEAN_FLAGS", "-ffdx  -e cache/", "cleanFlags", ["-ffdx", "-e", "cache/"]],
    ["GIT_FETCH_EXTRA_FLAGS", "none", "fetchFlags", []],
    ["GIT_FETCH_EXTRA_FLAGS", "--prune", "fetchFlags", ["--prune"]],
    ["GIT_SUBMODULE_UPDATE_FLAGS", "--remote --jobs 4", "submoduleUpdateFlags", ["--remote", "--jobs", "4"]],
    ["GIT_SUBMODULE_PATHS", ":(exclude)a  b", "submodulePaths", [":(exclude)a", "b"]],
  ] as const)("%s=%j gives %s %j", (key, raw, field, expected) => {
    expect(parseGitVariables({ [key]: raw }, defaults).settings[field]).toEqual([...expected]);
  });

  test("GIT_SUBMODULE_DEPTH overrides git_info.depth; a non-integer warns and keeps it", () => {
    expect(parseGitVariables({ GIT_SUBMODULE_DEPTH: "3" }, defaults).settings.submoduleDepth).toBe(3);
    const bad = parseGitVariables({ GIT_SUBMODULE_DEPTH: "3.5" }, defaults);
    expect(bad.settings.submoduleDepth).toBe(20);
    expect(bad.warnings).toEqual([`GIT_SUBMODULE_DEPTH: expected int got "3.5", using default value: 20`]);
  });

  test("an unknown GIT_SUBMODULE_STRATEGY is left undefined (the stage must fail) with a warning", () => {
    const { settings, warnings } = parseGitVariables({ GIT_SUBMODULE_STRATEGY: "deep" }, defaults);
    expect(settings.submoduleStrategy).toBeUndefined();
    expect(warnings).toEqual([
      `GIT_SUBMODULE_STRATEGY: expected either 'normal', 'recursive' or 'none' got "deep"`,
    ]);
  });

  test("GIT_LFS_SKIP_SMUDGE and GIT_SUBMODULE_FORCE_HTTPS are booleans", () => {
    const { settings } = parseGitVariables(
      { GIT_LFS_SKIP_SMUDGE: "1", GIT_SUBMODULE_FORCE_HTTPS: "true" },
      defaults,
    );
    expect(settings.lfsSkipSmudge).toBe(true);
    expect(settings.submoduleForceHttps).toBe(true);
  });

  test("in a variable list the last entry wins", () => {
    const list = [
      { key: "GIT_STRATEGY", value: "clone" },
      { key: "GIT_STRATEGY", value: "none" },
    ];
    expect(gitVariableValue(list, "GIT_STRATEGY")).toBe("none");
    expect(parseGitVariables(list, defaults).settings.strategy).toBe("none");
  });
});
