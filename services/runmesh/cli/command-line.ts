// The whole command line as GitLab Runner reads it: `runmesh [global options] VERB [verb options]`.
// Global options (--debug, --log-level/-l, --log-format, --help, --version/-v) come before the
// verb, each also from GitLab Runner's environment variable; the verb's options after it.
// Pure, so the table tests can cover every spelling; main.ts does the I/O.
import { homedir } from "node:os";
import { join } from "node:path";
import { type OptionValues, parseGoBool, parseVerbOptions, type VerbSpec } from "./option-table.ts";
import { GLOBAL_OPTIONS, VERBS, verbNamed } from "./verbs.ts";

export interface GlobalOptions {
  debug: boolean;
  logLevel?: string;
  logFormat?: string;
}

export type CommandLine =
  | { kind: "help"; verb?: VerbSpec }
  | { kind: "version" }
  | { kind: "verb"; verb: VerbSpec; globals: GlobalOptions; options: OptionValues };

export type Parsed = { ok: true; value: CommandLine } | { ok: false; message: string; verb?: string };

const LOG_FORMATS = ["runner", "text", "json"];

export function parseCommandLine(argv: readonly string[], env: Record<string, string | undefined>): Parsed {
  const globals: GlobalOptions = { debug: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("-")) break;
    const [flag, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case "--help":
      case "-h":
        return { ok: true, value: { kind: "help" } };
      case "--version":
      case "-v":
        return { ok: true, value: { kind: "version" } };
      case "--debug": {
        const b = inline === undefined ? true : parseGoBool(inline);
        if (b === undefined)
          return { ok: false, message: `--debug: expected true or false, got "${inline}"` };
        globals.debug = b;
        break;
      }
      case "--log-level":
      case "-l": {
        const v = value();
        if (!v)
          return { ok: false, message: `${flag} needs a value (debug, info, warn, error, fatal, panic)` };
        globals.logLevel = v;
        break;
      }
      case "--log-format": {
        const v = value();
        if (!v) return { ok: false, message: "--log-format needs a value (runner, text, json)" };
        globals.logFormat = v;
        break;
      }
      default: {
        const verbWithIt = VERBS.find((v) =>
          v.options.some((o) => `--${o.name}` === flag || `-${o.short}` === flag),
        );
        const where = verbWithIt
          ? `: it is an option of a verb, put it after the verb (runmesh ${verbWithIt.name} ${flag} …)`
          : "";
        return { ok: false, message: `${flag} is not a global option${where}` };
      }
    }
  }
  if (!globals.debug && env.RUNNER_DEBUG && parseGoBool(env.RUNNER_DEBUG)) globals.debug = true;
  globals.logLevel ??= env.LOG_LEVEL || undefined;
  globals.logFormat ??= env.LOG_FORMAT || undefined;
  if (globals.logFormat !== undefined && !LOG_FORMATS.includes(globals.logFormat))
    return {
      ok: false,
      message: `unknown log format "${globals.logFormat}", expected one of: ${LOG_FORMATS.join(", ")}`,
    };

  const verbName = argv[i];
  if (verbName === undefined) return { ok: true, value: { kind: "help" } };
  if (verbName === "help") {
    const about = argv[i + 1] === undefined ? undefined : verbNamed(argv[i + 1] as string);
    return { ok: true, value: { kind: "help", verb: about } };
  }
  // A verb of two words (`autoscaler simulate`) before the one-word verb it starts with.
  const sub = argv[i + 1] !== undefined ? verbNamed(`${verbName} ${argv[i + 1]}`) : undefined;
  const verb = sub ?? verbNamed(verbName);
  if (!verb) return { ok: false, message: `Command ${verbName} not found.` };
  const rest = argv.slice(i + (sub ? 2 : 1));
  if (rest.includes("--help") || rest.includes("-h")) return { ok: true, value: { kind: "help", verb } };
  const parsed = parseVerbOptions(verb, rest, env, { globals: GLOBAL_OPTIONS, others: VERBS });
  if (!parsed.ok) return { ok: false, message: parsed.message, verb: verb.name };
  return { ok: true, value: { kind: "verb", verb, globals, options: parsed.value } };
}

/**
 * GitLab Runner's default config file (commands/config_unix.go): /etc/gitlab-runner/config.toml
 * as root, else ~/.gitlab-runner/config.toml, else ./config.toml. `--config` and $CONFIG_FILE
 * (read by the option table) come first.
 */
export function defaultConfigFile(o: { uid: number; home?: string; cwd: string }): string {
  if (o.uid === 0) return "/etc/gitlab-runner/config.toml";
  if (o.home) return join(o.home, ".gitlab-runner", "config.toml");
  return join(o.cwd, "config.toml");
}

export function configFileFor(options: OptionValues): string {
  const given = options.config;
  if (typeof given === "string" && given !== "") return given;
  return defaultConfigFile({
    uid: process.getuid?.() ?? 1,
    home: process.env.HOME ?? homedir(),
    cwd: process.cwd(),
  });
}

/** The pino level for GitLab Runner's global flags: --debug wins over --log-level, as in log/configuration.go. */
export function effectiveLogLevel(globals: GlobalOptions): string | undefined {
  return globals.debug ? "debug" : globals.logLevel;
}

/**
 * The command line of a per-tier binary (`runmesh-poller --log-level debug --config …`): there
 * is no verb to put global options before, so they are taken from anywhere and moved in front.
 */
export function tierArgv(tier: string, argv: readonly string[]): string[] {
  const globals: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const flag = arg.split("=")[0] as string;
    if (flag === "--debug") globals.push(arg);
    else if (["--log-level", "-l", "--log-format"].includes(flag)) {
      globals.push(arg);
      if (!arg.includes("=") && argv[i + 1] !== undefined) globals.push(argv[++i] as string);
    } else rest.push(arg);
  }
  return [...globals, tier, ...rest];
}
