// Command-line parsing as GitLab Runner's (urfave/cli v1 + go-flags struct tags): global flags
// before the verb, then the verb's own options, each a row of a declarative table with its
// GitLab Runner environment variable. Pure: argv and env in, values or a user-facing error out.
// An option the verb does not have is refused, naming the verb(s) that do have it.
import { parseArgs } from "node:util";

export interface OptionSpec {
  /** Long name, without dashes: `working-directory`. */
  name: string;
  short?: string;
  /** Further long names for the same option (GitLab Runner: `--name` is `--description`). */
  aliases?: string[];
  type: "string" | "boolean";
  /** May be given more than once (`--env A=1 --env B=2`). */
  multiple?: boolean;
  /** GitLab Runner's environment variable for it (`CONFIG_FILE`), read when the flag is absent. */
  env?: string;
  /** Placeholder in the help text: `--config FILE`. */
  arg?: string;
  help: string;
}

export interface VerbSpec {
  name: string;
  summary: string;
  options: readonly OptionSpec[];
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** Go's strconv.ParseBool, which go-flags and urfave/cli use for boolean env vars and `--x=true`. */
export function parseGoBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

function flagName(arg: string): string | undefined {
  if (!arg.startsWith("-") || arg === "-" || arg === "--") return undefined;
  const body = arg.replace(/^--?/, "");
  return body.split("=")[0];
}

function describeOwners(name: string, verbs: readonly VerbSpec[]): string[] {
  return verbs
    .filter((v) => v.options.some((o) => o.name === name || o.short === name || o.aliases?.includes(name)))
    .map((v) => v.name);
}

/**
 * Parses one verb's arguments. `globals` are the names taken before the verb (refused after it,
 * as GitLab Runner refuses `run --debug`); `others` lets the error name the verbs that have an
 * option this verb lacks.
 */
export function parseVerbOptions(
  verb: VerbSpec,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  context: { globals?: readonly OptionSpec[]; others?: readonly VerbSpec[] } = {},
): ParseResult<OptionValues> {
  const byName = new Map<string, OptionSpec>();
  for (const o of verb.options) {
    byName.set(o.name, o);
    if (o.short) byName.set(o.short, o);
    for (const a of o.aliases ?? []) byName.set(a, o);
  }
  // Bring GitLab Runner's spellings to parseArgs's: aliases to the main name, `--flag=true|false`.
  const args: string[] = [];
  // `--locked=false` is an explicit false (register refuses it), not an absent flag.
  const explicitFalse: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const name = flagName(arg);
    if (name === undefined) {
      const hint =
        parseGoBool(arg) !== undefined
          ? ` (boolean options take --flag or --flag=${arg}, not a separate "${arg}")`
          : "";
      return { ok: false, message: `unexpected argument "${arg}": ${verb.name} takes options only${hint}` };
    }
    if (arg === "--") return { ok: false, message: `${verb.name} takes no arguments after "--"` };
    const spec = byName.get(name);
    if (!spec) {
      const dashes = name.length === 1 ? "-" : "--";
      if (context.globals?.some((g) => g.name === name || g.short === name))
        return {
          ok: false,
          message: `${dashes}${name} is a global option: put it before the verb (runmesh ${dashes}${name} … ${verb.name} …)`,
        };
      const owners = describeOwners(name, context.others ?? []).filter((v) => v !== verb.name);
      const where = owners.length ? ` (it is an option of ${owners.join(", ")})` : "";
      return {
        ok: false,
        message: `${dashes}${name} is not an option of ${verb.name}${where}; see runmesh ${verb.name} --help`,
      };
    }
    const inline = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : undefined;
    if (spec.type === "boolean") {
      if (inline === undefined) args.push(`--${spec.name}`);
      else {
        const b = parseGoBool(inline);
        if (b === undefined)
          return { ok: false, message: `--${name}: expected true or false, got "${inline}"` };
        if (b) args.push(`--${spec.name}`);
        else explicitFalse.push(spec.name);
      }
      continue;
    }
    if (inline !== undefined) {
      args.push(`--${spec.name}=${inline}`);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined)
      return { ok: false, message: `--${name} needs a value${spec.arg ? ` (${spec.arg})` : ""}` };
    args.push(`--${spec.name}=${next}`);
    i++;
  }
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const o of verb.options) options[o.name] = { type: o.type, multiple: o.multiple };
  let values: OptionValues;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as OptionValues;
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
  for (const name of explicitFalse) if (values[name] === undefined) values[name] = false;
  for (const o of verb.options) {
    if (values[o.name] !== undefined || !o.env) continue;
    const fromEnv = env[o.env];
    if (fromEnv === undefined || fromEnv === "") continue;
    if (o.type === "boolean") {
      const b = parseGoBool(fromEnv);
      if (b === undefined)
        return { ok: false, message: `${o.env}: expected true or false, got "${fromEnv}"` };
      values[o.name] = b;
    } else values[o.name] = o.multiple ? fromEnv.split(",") : fromEnv;
  }
  return { ok: true, value: values };
}

/** `  -c, --config FILE   Config file [$CONFIG_FILE]`, GitLab Runner's help layout. */
export function optionsHelp(options: readonly OptionSpec[]): string {
  const rows = options.map((o) => {
    const names = [
      o.short ? `-${o.short}` : undefined,
      `--${o.name}`,
      ...(o.aliases ?? []).map((a) => `--${a}`),
    ]
      .filter(Boolean)
      .join(", ");
    return [`${names}${o.arg ? ` ${o.arg}` : ""}`, `${o.help}${o.env ? ` [$${o.env}]` : ""}`] as const;
  });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `   ${l.padEnd(width)}  ${r}`).join("\n");
}
