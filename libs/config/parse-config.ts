// config.toml → Config: TOML syntax first, then one zod pass that applies GitLab Runner's
// defaults, then the checks that span several keys. Every problem becomes one line naming the
// file, the runner, the key, what was expected and what was found; they are thrown together.
import { readFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { parse, TomlError } from "smol-toml";
import type { z } from "zod";
import { ConfigError } from "./config-error.ts";
import { closestKey, describeLocation, renderValue, valueAt } from "./config-messages.ts";
import { configSchema, resolveGlobals } from "./config-schema.ts";
import { resolveMesh } from "./mesh-schema.ts";
import type { RunnerConfig } from "./runner-schema.ts";
import { findUnknownKeys } from "./unknown-keys.ts";

export type Config = ReturnType<typeof finish>;

export interface ParseOptions {
  /** Names the file in every message, e.g. "config.toml" or "/etc/gitlab-runner/config.toml". */
  source: string;
  /** The [mesh] name default; the machine's hostname unless given (tests pass one). */
  hostname?: string;
}

export interface ParsedConfig {
  config: Config;
  warnings: string[];
}

function finish(parsed: z.output<typeof configSchema>, hostname: string) {
  const globals = resolveGlobals(parsed);
  return { ...globals, mesh: resolveMesh(parsed.mesh, { concurrent: parsed.concurrent, hostname }) };
}

/** Parses and validates config.toml text. Throws ConfigError listing every problem. */
export function parseConfig(text: string, opts: ParseOptions): ParsedConfig {
  const { source } = opts;
  const raw = parseToml(text, source);

  const problems: string[] = [];
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(describeIssue(source, raw, issue));
  }
  problems.push(...crossKeyProblems(source, raw));
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  if (!result.success) throw new Error("unreachable: schema failed without issues");

  const config = finish(result.data, opts.hostname ?? osHostname());
  const warnings = [
    ...findUnknownKeys(configSchema, raw).map(({ path, known }) => {
      const key = String(path[path.length - 1]);
      const guess = closestKey(key, known);
      const hint = guess ? `; did you mean ${JSON.stringify(guess)}?` : "";
      return `${describeLocation(source, raw, path)}: unknown key, ignored (GitLab Runner ignores it too)${hint}`;
    }),
    ...configWarnings(source, raw, config),
  ];
  return { config, warnings };
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

function describeIssue(source: string, raw: unknown, issue: z.core.$ZodIssue): string {
  const where = describeLocation(source, raw, issue.path);
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

const isTable = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Problems no single key can show: they need another key of the same entry. */
function crossKeyProblems(source: string, raw: unknown): string[] {
  const problems: string[] = [];
  const runners = isTable(raw) && Array.isArray(raw.runners) ? raw.runners : [];
  runners.forEach((entry, i) => {
    if (!isTable(entry)) return;
    const custom = isTable(entry.custom) ? entry.custom : undefined;
    if (entry.executor === "custom" && (typeof custom?.run_exec !== "string" || custom.run_exec === "")) {
      problems.push(
        `${describeLocation(source, raw, ["runners", i, "custom", "run_exec"])}: missing; expected the path of the executable that runs each job script (the custom executor requires run_exec)`,
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
function configWarnings(source: string, raw: unknown, config: Config): string[] {
  const warnings: string[] = [];
  if (config.runners.length === 0) {
    warnings.push(`${source}: no [[runners]] entries: there is nothing to ask GitLab for jobs`);
  }
  const seen = new Map<string, number>();
  config.runners.forEach((runner, i) => {
    const at = (...path: PropertyKey[]) => describeLocation(source, raw, ["runners", i, ...path]);
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
    if (runner.pre_clone_script !== undefined) {
      warnings.push(
        `${at("pre_clone_script")}: deprecated; GitLab Runner uses it as pre_get_sources_script, rename it`,
      );
    }
    if (runner.post_clone_script !== undefined) {
      warnings.push(
        `${at("post_clone_script")}: deprecated; GitLab Runner uses it as post_get_sources_script, rename it`,
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
  });
  return warnings;
}
