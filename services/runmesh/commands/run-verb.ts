// Runs one management verb (everything but the tiers) from its parsed options: GitLab Runner's
// register, unregister, verify, list, reset-token and the service verbs.
import { basename, join, resolve } from "node:path";
import { createLogger } from "../../../libs/log/logger.ts";
import { configFileFor, effectiveLogLevel, type GlobalOptions } from "../cli/command-line.ts";
import type { OptionValues } from "../cli/option-table.ts";
import { type CliContext, defaultCliContext, type ExitCode } from "./cli-context.ts";
import { fleetingCommand, fleetingLogin } from "./fleeting.ts";
import { listCommand } from "./list.ts";
import { registerCommand } from "./register.ts";
import { resetTokenCommand } from "./reset-token.ts";
import {
  type CommandRunner,
  DEFAULT_SERVICE,
  DEFAULT_UNIT_DIR,
  type ServiceVerb,
  serviceCommand,
  spawnCommand,
} from "./service.ts";
import { unregisterCommand } from "./unregister.ts";
import { verifyCommand } from "./verify.ts";

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

/** The executable a service unit starts: the compiled binary, or bin/runmesh when run from source. */
export function runmeshExecutable(execPath = process.execPath): string {
  // From source the process is Bun itself (node_modules/bun/bin/bun.exe on Linux too).
  if (!/^bun(\.exe)?$/.test(basename(execPath))) return execPath;
  return resolve(join(import.meta.dir, "..", "..", "..", "bin", "runmesh"));
}

export async function runManagementVerb(
  verb: string,
  options: OptionValues,
  globals: GlobalOptions,
  deps: { ctx?: CliContext; run?: CommandRunner } = {},
): Promise<ExitCode> {
  const logger =
    deps.ctx?.logger ??
    createLogger({
      service: "runmesh",
      level: effectiveLogLevel(globals) ?? "info",
      format: globals.logFormat ?? "text",
    });
  const ctx = deps.ctx ?? defaultCliContext(logger);
  const configPath = configFileFor(options);
  switch (verb) {
    case "list":
      return listCommand({ configPath }, ctx);
    case "fleeting login":
      return fleetingLogin({ registry: str(options.registry), username: str(options.username) }, ctx);
    case "fleeting install":
    case "fleeting list":
      return fleetingCommand(
        verb === "fleeting install" ? "install" : "list",
        { configPath, upgrade: options.upgrade === true },
        ctx,
      );
    case "verify":
      return verifyCommand(
        {
          configPath,
          name: str(options.name),
          url: str(options.url),
          token: str(options.token),
          delete: options.delete === true,
        },
        ctx,
      );
    case "unregister":
      return unregisterCommand(
        {
          configPath,
          name: str(options.name),
          url: str(options.url),
          token: str(options.token),
          allRunners: options["all-runners"] === true,
        },
        ctx,
      );
    case "reset-token": {
      const id = str(options.id);
      if (id !== undefined && !/^\d+$/.test(id)) {
        logger.fatal(`--id: expected the runner's numeric id, got "${id}"`);
        return 1;
      }
      return resetTokenCommand(
        {
          configPath,
          name: str(options.name),
          url: str(options.url),
          id: id === undefined ? undefined : Number(id),
          allRunners: options["all-runners"] === true,
        },
        ctx,
      );
    }
    case "register":
      return registerCommand({ configPath, options }, ctx);
    case "install":
    case "uninstall":
    case "start":
    case "stop":
    case "restart":
    case "status": {
      const service = str(options.service) ?? DEFAULT_SERVICE;
      const uid = process.getuid?.() ?? 1;
      const initUser = str(options["init-user"]);
      // service.go: without --config, --init-user moves the config into that user's home.
      const config =
        str(options.config) ?? (initUser ? join(homeOf(initUser), "config.toml") : configFileFor({}));
      return serviceCommand(
        {
          verb: verb as ServiceVerb,
          service,
          unitDir: str(options["unit-dir"]) ?? DEFAULT_UNIT_DIR,
          uid,
          unit: {
            service,
            executable: runmeshExecutable(),
            config: resolve(config),
            workingDirectory: resolve(str(options["working-directory"]) ?? process.cwd()),
            syslog: options.syslog === true,
            user: str(options.user),
            initUser,
          },
        },
        {
          run: deps.run ?? spawnCommand,
          logger,
          out: ctx.out,
          err: (line) => process.stderr.write(`${line}\n`),
        },
      );
    }
    default:
      logger.fatal(`Command ${verb} not found.`);
      return 2;
  }
}

function homeOf(user: string): string {
  // getent passwd: field 6 is the home directory.
  const res = Bun.spawnSync(["getent", "passwd", user]);
  const home = res.stdout.toString().split(":")[5];
  if (res.exitCode !== 0 || !home) throw new Error(`--init-user: no user "${user}" on this machine`);
  return home;
}
