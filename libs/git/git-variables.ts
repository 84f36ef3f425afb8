// The GIT_* job variables as GitLab Runner reads them (common/build_settings.go): each one
// validated once, with GitLab's defaults and GitLab's warning texts for values it cannot use.
// Pure. Values are taken as already expanded (the job's variable list after expansion).
import { parseGoBool } from "../job/variables.ts";

export type GitStrategy = "clone" | "fetch" | "none" | "empty";
export type SubmoduleStrategy = "none" | "normal" | "recursive";

/** A variable list (later entries win, as lookups do) or a plain name → value map. */
export type GitVariableSource =
  | readonly { readonly key: string; readonly value: string }[]
  | Readonly<Record<string, string>>;

export interface GitSettings {
  strategy: GitStrategy;
  /** GIT_CHECKOUT; always false for the none and empty strategies. */
  checkout: boolean;
  /**
   * GIT_SUBMODULE_STRATEGY; "none" for the none and empty strategies. `undefined` when the
   * value was invalid: GitLab then fails the stage ("unknown GIT_SUBMODULE_STRATEGY").
   */
  submoduleStrategy: SubmoduleStrategy | undefined;
  /** GIT_SUBMODULE_PATHS split on whitespace: pathspecs such as `:(exclude)sub`. */
  submodulePaths: string[];
  /** GIT_SUBMODULE_DEPTH, defaulting to git_info.depth. 0 = full history. */
  submoduleDepth: number;
  /** GIT_CLEAN_FLAGS; [] (from `none`) means no `git clean`. */
  cleanFlags: string[];
  /** GIT_FETCH_EXTRA_FLAGS, appended after the fixed fetch arguments; [] from `none`. */
  fetchFlags: string[];
  /** GIT_SUBMODULE_UPDATE_FLAGS, appended after `--init [--recursive] [--depth N]`. */
  submoduleUpdateFlags: string[];
  /** GIT_LFS_SKIP_SMUDGE set true by the user: no `git lfs pull` at all. */
  lfsSkipSmudge: boolean;
  /** GIT_SUBMODULE_FORCE_HTTPS: rewrite ssh/git submodule URLs of this server to https + job token. */
  submoduleForceHttps: boolean;
}

export interface ParsedGitVariables {
  settings: GitSettings;
  /** One line per unusable value, in GitLab's words; print them as warnings in the job log. */
  warnings: string[];
}

export interface GitVariableDefaults {
  /** allow_git_fetch of the payload: the default strategy is fetch if true, clone otherwise. */
  allowGitFetch: boolean;
  /** git_info.depth: the default of GIT_SUBMODULE_DEPTH. */
  depth: number;
}

const DEFAULT_CLEAN_FLAGS = ["-ffdx"];
const DEFAULT_FETCH_FLAGS = ["--prune", "--quiet"];

/** The value of `key` (the last one in a list), "" when absent, as GitLab's Value() does. */
export function gitVariableValue(vars: GitVariableSource, key: string): string {
  if (Array.isArray(vars)) {
    const list = vars as readonly { key: string; value: string }[];
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.key === key) return list[i]!.value;
    return "";
  }
  const map = vars as Readonly<Record<string, string>>;
  return Object.hasOwn(map, key) ? (map[key] ?? "") : "";
}

const fields = (raw: string) => raw.split(/\s+/).filter((s) => s !== "");

export function parseGitVariables(
  vars: GitVariableSource,
  defaults: GitVariableDefaults,
): ParsedGitVariables {
  const warnings: string[] = [];
  const value = (key: string) => gitVariableValue(vars, key);

  const defaultStrategy: GitStrategy = defaults.allowGitFetch ? "fetch" : "clone";
  let strategy: GitStrategy = defaultStrategy;
  const rawStrategy = value("GIT_STRATEGY");
  if (
    rawStrategy === "clone" ||
    rawStrategy === "fetch" ||
    rawStrategy === "none" ||
    rawStrategy === "empty"
  ) {
    strategy = rawStrategy;
  } else if (rawStrategy !== "") {
    warnings.push(
      `GIT_STRATEGY: expected either 'clone', 'fetch', 'none' or 'empty' got ${goQuote(rawStrategy)}, using default value '${defaultStrategy}'`,
    );
  }

  let submoduleStrategy: SubmoduleStrategy | undefined = "none";
  const rawSubmodules = value("GIT_SUBMODULE_STRATEGY");
  if (rawSubmodules === "none" || rawSubmodules === "normal" || rawSubmodules === "recursive") {
    submoduleStrategy = rawSubmodules;
  } else if (rawSubmodules !== "") {
    submoduleStrategy = undefined;
    warnings.push(
      `GIT_SUBMODULE_STRATEGY: expected either 'normal', 'recursive' or 'none' got ${goQuote(rawSubmodules)}`,
    );
  }

  const bool = (key: string, def: boolean): boolean => {
    const raw = value(key);
    if (raw === "") return def;
    const parsed = parseGoBool(raw);
    if (parsed === undefined) {
      warnings.push(`${key}: expected bool got ${goQuote(raw)}, using default value: ${def}`);
      return def;
    }
    return parsed;
  };

  const int = (key: string, def: number): number => {
    const raw = value(key);
    if (raw === "") return def;
    // strconv.ParseInt(raw, 10, 64): optional sign, decimal digits only.
    if (!/^[+-]?\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      warnings.push(`${key}: expected int got ${goQuote(raw)}, using default value: ${def}`);
      return def;
    }
    return Number(raw);
  };

  const flags = (key: string, def: readonly string[]): string[] => {
    const raw = value(key);
    if (raw === "") return [...def];
    if (raw === "none") return [];
    return fields(raw);
  };

  const checkout = bool("GIT_CHECKOUT", true);
  const noRepo = strategy === "none" || strategy === "empty";

  return {
    settings: {
      strategy,
      checkout: noRepo ? false : checkout,
      submoduleStrategy: noRepo ? "none" : submoduleStrategy,
      submodulePaths: fields(value("GIT_SUBMODULE_PATHS")),
      submoduleDepth: int("GIT_SUBMODULE_DEPTH", defaults.depth),
      cleanFlags: flags("GIT_CLEAN_FLAGS", DEFAULT_CLEAN_FLAGS),
      fetchFlags: flags("GIT_FETCH_EXTRA_FLAGS", DEFAULT_FETCH_FLAGS),
      submoduleUpdateFlags: flags("GIT_SUBMODULE_UPDATE_FLAGS", []),
      lfsSkipSmudge: bool("GIT_LFS_SKIP_SMUDGE", false),
      submoduleForceHttps: bool("GIT_SUBMODULE_FORCE_HTTPS", false),
    },
    warnings,
  };
}

/** Go's %q for the plain strings warnings show. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}
