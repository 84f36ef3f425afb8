// config.toml → Config, read as GitLab Runner reads it: TOML syntax first; keys matched to
// fields case-insensitively when none matches exactly (BurntSushi/toml); $VAR in each entry's
// url and token expanded from the environment (18.10+); then one zod pass that applies GitLab
// Runner's defaults, then the checks that span several keys. An entry without token, url or
// executor is skipped with a warning, as GitLab Runner never polls it. Every problem becomes one
// line naming the file, the runner, the key, what was expected and what was found; they are
// thrown together.
import { readFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { parse, TomlError } from "smol-toml";
import type { z } from "zod";
import { CACHE_TYPES, S3_KEYS } from "./cache-section.ts";
import { ConfigError } from "./config-error.ts";
import { closestKey, describeLocation, renderValue, valueAt } from "./config-messages.ts";
import { configSchema, resolveGlobals } from "./config-schema.ts";
import { hasLegacyCiSuffix } from "./gitlab-url.ts";
import { type Environment, expandedNames, goExpandEnv } from "./go-expand-env.ts";
import { matchKeyCase, writtenPath } from "./key-case.ts";
import { resolveMesh } from "./mesh-schema.ts";
import { runnerKeys } from "./runner-key.ts";
import { missingPollingKeys, type PollingKey, type RunnerConfig } from "./runner-schema.ts";
import { isTable } from "./schema-walk.ts";
import { findUnknownKeys } from "./unknown-keys.ts";

export type Config = ReturnType<typeof finish>;

export interface ParseOptions {
  /** Names the file in every message, e.g. "config.toml" or "/etc/gitlab-runner/config.toml". */
  source: string;
  /** The [mesh] name default; the machine's hostname unless given (tests pass one). */
  hostname?: string;
  /** Where $VAR in url and token is looked up; process.env unless given (tests pass one). */
  env?: Environment;
}

export interface ParsedConfig {
  config: Config;
  warnings: string[];
}

type Parsed = z.output<typeof configSchema>;

function finish(parsed: Parsed, runners: RunnerConfig[], hostname: string) {
  const globals = resolveGlobals(parsed);
  // runnerKey names the entry on the bus and in the runners KV bucket (runner-key.ts).
  const keys = runnerKeys(runners);
  return {
    ...globals,
    runners: runners.map((r, i) => ({ ...r, runnerKey: keys[i] as string })),
    mesh: resolveMesh(parsed.mesh, { concurrent: parsed.concurrent, hostname }),
  };
}

/** A location in the file as the user wrote it: "config.toml: runner "x" (runners[0]): [[runners]] url". */
type Locate = (path: readonly PropertyKey[]) => string;

/** An entry that is polled, with its index in the file (messages name it by that index). */
interface KeptEntry {
  index: number;
  runner: RunnerConfig;
}

/** Parses and validates config.toml text. Throws ConfigError listing every problem. */
export function parseConfig(text: string, opts: ParseOptions): ParsedConfig {
  const { source } = opts;
  const raw = parseToml(text, source);
  const clashes = matchKeyCase(configSchema, raw);
  const unsetVariables = expandCredentials(raw, opts.env ?? process.env);
  const locate: Locate = (path) => describeLocation(source, raw, writtenPath(raw, path));

  const problems: string[] = [];
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(describeIssue(locate, raw, issue));
  }
  problems.push(...crossKeyProblems(locate, raw));
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  if (!result.success) throw new Error("unreachable: schema failed without issues");

  const kept: KeptEntry[] = [];
  const skipped: string[] = [];
  result.data.runners.forEach((entry, index) => {
    if ("skipped" in entry) skipped.push(skippedEntryWarning(locate(["runners", index]), entry.skipped));
    else kept.push({ index, runner: entry });
  });
  const config = finish(
    result.data,
    kept.map((k) => k.runner),
    opts.hostname ?? osHostname(),
  );
  const warnings = [
    ...clashes.map(
      ({ path, written }) =>
        `${locate(path)}: set twice, as ${written.map((k) => JSON.stringify(k)).join(" and ")}; keys match case-insensitively, so GitLab Runner keeps either one at random and runmesh keeps ${JSON.stringify(written[0])}: remove the other`,
    ),
    ...unsetVariables.map(
      ({ path, name }) =>
        `${locate(path)}: refers to $${name}, which is not set in the environment, so it expands to "" (GitLab Runner expands $VAR and \${VAR} here the same way)`,
    ),
    ...skipped,
    ...findUnknownKeys(configSchema, raw).map(({ path, known }) => unknownKeyWarning(locate, path, known)),
    ...configWarnings(locate, raw, kept),
  ];
  return { config, warnings };
}

/** Expands $VAR in each entry's url and token in place (os.ExpandEnv); returns the unset names. */
function expandCredentials(raw: unknown, env: Environment): { path: PropertyKey[]; name: string }[] {
  const unset: { path: PropertyKey[]; name: string }[] = [];
  const runners = isTable(raw) && Array.isArray(raw.runners) ? raw.runners : [];
  runners.forEach((entry, i) => {
    if (!isTable(entry)) return;
    for (const key of ["url", "token"] as const) {
      const value = entry[key];
      if (typeof value !== "string" || !value.includes("$")) continue;
      for (const name of new Set(expandedNames(value))) {
        if (env[name] === undefined) unset.push({ path: ["runners", i, key], name });
      }
      entry[key] = goExpandEnv(value, env);
    }
  });
  return unset;
}

const POLLING_KEY_EXPECTED: Record<PollingKey, string> = {
  token: "the runner authentication token that registration wrote",
  url: "the GitLab instance URL",
  executor: "an executor name",
};

function skippedEntryWarning(entry: string, keys: PollingKey[]): string {
  const expected = keys.map((k) => `${k}: ${POLLING_KEY_EXPECTED[k]}`).join("; ");
  return `${entry} ${keys.join(", ")}: missing or empty; entry skipped, no jobs are requested for it, as GitLab Runner loads the file and never polls such an entry (expected ${expected})`;
}

/** [[runners]] keys GitLab Runner 17.0 removed: it ignores them, and so does runmesh. */
const REMOVED_RUNNER_KEYS: Record<string, string> = {
  pre_clone_script: "pre_get_sources_script",
  post_clone_script: "post_get_sources_script",
};

function unknownKeyWarning(locate: Locate, path: PropertyKey[], known: string[]): string {
  const key = String(path[path.length - 1]);
  const renamed = path.length === 3 && path[0] === "runners" ? REMOVED_RUNNER_KEYS[key] : undefined;
  if (renamed) {
    return `${locate(path)}: removed in GitLab Runner 17.0, which ignores it: this script does not run; rename the key to ${renamed}`;
  }
  if (path.length === 4 && path[0] === "runners" && path[2] === "cache" && S3_KEYS.has(key)) {
    return `${locate(path)}: unknown key, ignored: it belongs in [runners.cache.s3] since GitLab Runner 11.3, and GitLab Runner ignores it here too`;
  }
  const guess = closestKey(key, known);
  const hint = guess ? `; did you mean ${JSON.stringify(guess)}?` : "";
  return `${locate(path)}: unknown key, ignored${hint}`;
}

/** Reads and parses a config file; an unreadable file is a ConfigError too. */
export async function loadConfig(path: string): Promise<ParsedConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    const hint =
      reason === "ENOENT"
        ? "the file does not exist: create it (see libs/config/fixtures/demo.toml) or pass another --config"
        : reason === "EACCES"
          ? "permission denied: run as a user that may read it, or fix its mode"
          : reason === "EISDIR"
            ? "it is a directory: pass the path of config.toml itself"
            : `cannot read it (${reason})`;
    throw new ConfigError([`${path}: ${hint}`]);
  }
  return parseConfig(text, { source: path });
}

function parseToml(text: string, source: string): unknown {
  try {
    // smol-toml with integersAsBigInt "asNeeded": 100% of toml-test's valid cases and errors with
    // line/column (reference/ecosystem.md §2); Bun.TOML gives no line numbers.
    return parse(text, { integersAsBigInt: "asNeeded" });
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = (error.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
      const frame = error.codeblock ? `\n${error.codeblock.replace(/\n+$/, "")}` : "";
      throw new ConfigError([
        `${source}:${error.line}:${error.column}: malformed TOML: ${reason} (line ${error.line}, column ${error.column})${frame}`,
      ]);
    }
    throw error;
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "an array",
  object: "a table",
  record: "a table",
  date: "a date-time",
};

function describeIssue(locate: Locate, raw: unknown, issue: z.core.$ZodIssue): string {
  const where = locate(issue.path);
  const found = valueAt(raw, issue.path);
  // Our schemas phrase their own messages; zod's generic ones start with "Invalid".
  let expected = issue.message;
  if (/^Invalid/.test(expected)) {
    if (issue.code === "invalid_type") expected = TYPE_WORDS[issue.expected] ?? issue.expected;
    else if (issue.code === "invalid_value")
      expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  if (issue.code === "invalid_value" && typeof found === "string") {
    const guess = closestKey(found, issue.values.map(String));
    if (guess) expected += ` (did you mean ${JSON.stringify(guess)}?)`;
  }
  const detail = issue.code === "custom" && issue.params?.detail ? ` (${issue.params.detail})` : "";
  if (found === undefined) return `${where}: missing; expected ${expected}`;
  const tooBig = typeof found === "bigint" ? " (too large for runmesh)" : "";
  return `${where}: expected ${expected}, got ${renderValue(found)}${detail}${tooBig}`;
}

/** Problems no single key can show: they need another key of the same entry. */
function crossKeyProblems(locate: Locate, raw: unknown): string[] {
  const problems: string[] = [];
  const runners = isTable(raw) && Array.isArray(raw.runners) ? raw.runners : [];
  runners.forEach((entry, i) => {
    // A skipped entry never runs a job: GitLab Runner checks nothing more of it.
    if (!isTable(entry) || missingPollingKeys(entry).length > 0) return;
    const custom = isTable(entry.custom) ? entry.custom : undefined;
    if (entry.executor === "custom" && (typeof custom?.run_exec !== "string" || custom.run_exec === "")) {
      problems.push(
        `${locate(["runners", i, "custom", "run_exec"])}: missing; expected the path of the executable that runs each job script (the custom executor requires run_exec)`,
      );
    }
  });
  return problems;
}

const EXECUTOR_NEEDS: Partial<Record<RunnerConfig["executor"], { table: keyof RunnerConfig; why: string }>> =
  {
    docker: { table: "docker", why: "it holds the default image and container settings" },
    "docker-windows": { table: "docker", why: "it holds the default image and container settings" },
    "docker+machine": { table: "machine", why: "it says how to create machines" },
    "docker-autoscaler": { table: "autoscaler", why: "it names the fleeting plugin and its capacity" },
    instance: { table: "autoscaler", why: "it names the fleeting plugin and its capacity" },
    ssh: { table: "ssh", why: "it says where to connect" },
    parallels: { table: "parallels", why: "it names the VM to clone" },
    virtualbox: { table: "virtualbox", why: "it names the VM to clone" },
  };

/** Things GitLab Runner would accept but that will not do what the file seems to want. */
function configWarnings(locate: Locate, raw: unknown, kept: KeptEntry[]): string[] {
  const warnings: string[] = [];
  if (kept.length === 0) {
    const written = isTable(raw) && Array.isArray(raw.runners) && raw.runners.length > 0;
    warnings.push(
      `${locate([])}: ${written ? "no [[runners]] entry can be polled" : "no [[runners]] entries"}: there is nothing to ask GitLab for jobs`,
    );
  }
  const seen = new Map<string, number>();
  for (const { index: i, runner } of kept) {
    const at = (...path: PropertyKey[]) => locate(["runners", i, ...path]);
    const url = valueAt(raw, ["runners", i, "url"]);
    if (typeof url === "string" && hasLegacyCiSuffix(url)) {
      warnings.push(
        `${at("url")}: the legacy "/ci" suffix is deprecated; runmesh drops it, as GitLab Runner does, and warns as GitLab Runner 18.7+ does: remove it from config.toml (Git submodules may fail to clone with authentication errors while it is there)`,
      );
    }
    const cacheType = runner.cache?.Type;
    if (cacheType !== undefined && !(CACHE_TYPES as readonly string[]).includes(cacheType)) {
      const guess = closestKey(cacheType, CACHE_TYPES);
      const hint = guess ? ` (did you mean ${JSON.stringify(guess)}?)` : "";
      warnings.push(
        `${at("cache", "Type")}: ${JSON.stringify(cacheType)} is not a cache type GitLab Runner has (${CACHE_TYPES.map((t) => JSON.stringify(t)).join(", ")})${hint}; jobs keep only a local cache, and GitLab Runner logs "Could not create cache adapter" at each job`,
      );
    }
    const need = EXECUTOR_NEEDS[runner.executor];
    if (need && runner[need.table] === undefined) {
      warnings.push(
        `${at("executor")}: executor ${JSON.stringify(runner.executor)} needs a [runners.${need.table}] table (${need.why}); jobs will fail without it`,
      );
    }
    if ((runner.executor === "parallels" || runner.executor === "virtualbox") && !runner.ssh) {
      warnings.push(
        `${at("executor")}: executor ${JSON.stringify(runner.executor)} connects with [runners.ssh], which is missing`,
      );
    }
    if (runner.machine?.OffPeakPeriods?.length) {
      warnings.push(
        `${at("machine", "OffPeakPeriods")}: the OffPeak settings were removed in GitLab Runner 14.0 and are ignored; use [[runners.machine.autoscaling]]`,
      );
    }
    if (runner.token_expires_at && runner.token_expires_at.getTime() < Date.now()) {
      warnings.push(
        `${at("token_expires_at")}: the token expired at ${runner.token_expires_at.toISOString()}; GitLab will refuse it (403) until the runner is registered again`,
      );
    }
    const identity = `${runner.url}\n${runner.token}`;
    const first = seen.get(identity);
    if (first !== undefined) {
      warnings.push(
        `${at("token")}: same url and token as runners[${first}]; GitLab sees one runner polling twice`,
      );
    } else seen.set(identity, i);
  }
  return warnings;
}
