// `runmesh install|uninstall|start|stop|restart|status`, as GitLab Runner's service verbs
// (commands/service.go on linux-systemd, through kardianos/service): install writes the same
// systemd unit GitLab Runner writes (ExecStart = `run --config … --working-directory …
// --service … [--syslog] [--user …]`, Restart=always, RestartSec=120) and enables it; the other
// verbs drive it with systemctl. The unit text and the command lists are pure; the commands run
// through an injected runner, so tests check them without systemd as PID 1.
import { access, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../../libs/log/logger.ts";
import type { ExitCode } from "./cli-context.ts";

export const DEFAULT_SERVICE = "gitlab-runner";
export const DEFAULT_UNIT_DIR = "/etc/systemd/system";

export interface UnitSpec {
  service: string;
  /** Absolute path of the runmesh executable ExecStart runs. */
  executable: string;
  config: string;
  workingDirectory?: string;
  syslog: boolean;
  /** `--user`: the user job scripts run as (runmesh itself stays root). */
  user?: string;
  /** `--init-user`: the user systemd runs runmesh as (User=). */
  initUser?: string;
}

/** One ExecStart word, quoted as kardianos/service does, with systemd's `%` and `$` escaped. */
export function quoteExecArg(word: string): string {
  return `"${word.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("%", "%%").replaceAll("$", "$$$$")}"`;
}

/** `run` and its options, in GitLab Runner's order (GetServiceArguments, then setupOSServiceConfig). */
export function serviceArguments(u: UnitSpec): string[] {
  const args = ["run", "--config", u.config];
  if (u.workingDirectory) args.push("--working-directory", u.workingDirectory);
  args.push("--service", u.service);
  if (u.syslog) args.push("--syslog");
  if (u.user) args.push("--user", u.user);
  return args;
}

export function unitText(u: UnitSpec): string {
  const lines = [
    "[Unit]",
    "Description=GitLab Runner (runmesh)",
    `ConditionFileIsExecutable=${u.executable}`,
    "After=network.target",
    "",
    "[Service]",
    "StartLimitInterval=5",
    "StartLimitBurst=10",
    `ExecStart=${quoteExecArg(u.executable)} ${serviceArguments(u).map(quoteExecArg).join(" ")}`,
    ...(u.initUser ? [`User=${u.initUser}`] : []),
    "Restart=always",
    "RestartSec=120",
    `EnvironmentFile=-/etc/sysconfig/${u.service}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ];
  return lines.join("\n");
}

export type ServiceVerb = "install" | "uninstall" | "start" | "stop" | "restart" | "status";

/** The systemctl calls each verb makes, in order (kardianos/service's systemd implementation). */
export function systemctlCalls(verb: ServiceVerb, service: string): string[][] {
  const unit = `${service}.service`;
  switch (verb) {
    case "install":
      return [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", unit],
      ];
    case "uninstall":
      // The unit file is removed between these two.
      return [
        ["systemctl", "disable", unit],
        ["systemctl", "daemon-reload"],
      ];
    case "status":
      return [["systemctl", "is-active", unit]];
    default:
      return [["systemctl", verb, unit]];
  }
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}
export type CommandRunner = (argv: string[]) => Promise<CommandResult>;

export const spawnCommand: CommandRunner = async (argv) => {
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
};

export interface ServiceOptions {
  verb: ServiceVerb;
  service: string;
  unitDir: string;
  /** install only */
  unit?: UnitSpec;
  uid: number;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

export async function serviceCommand(
  o: ServiceOptions,
  io: { run: CommandRunner; logger: Logger; out(line: string): void; err(line: string): void },
): Promise<ExitCode> {
  const unitPath = join(o.unitDir, `${o.service}.service`);
  if (o.verb === "install") {
    const u = o.unit as UnitSpec;
    if (u.user && u.initUser) {
      io.logger.fatal("Only one of 'user' or 'init-user' can be specified.");
      return 1;
    }
    if (!u.user && !u.initUser && o.uid === 0) {
      io.logger.fatal("Please specify user that will run gitlab-runner service (--user or --init-user)");
      return 1;
    }
    if (!(await exists(u.config))) {
      // service.go runServiceInstall: save the config for the first time.
      await mkdir(join(u.config, ".."), { recursive: true, mode: 0o700 });
      await writeFile(u.config, "concurrent = 1\ncheck_interval = 0\n", { mode: 0o600 });
    }
    await mkdir(o.unitDir, { recursive: true });
    await writeFile(unitPath, unitText(u), { mode: 0o644 });
    io.logger.info({ unit: unitPath }, "systemd unit written");
  } else if (!(await exists(unitPath))) {
    const message = `${o.service}: the service is not installed (no ${unitPath})`;
    if (o.verb === "status") {
      io.err(message);
      return 1;
    }
    io.logger.fatal(message);
    return 1;
  }
  for (const argv of systemctlCalls(o.verb, o.service)) {
    if (o.verb === "uninstall" && argv[1] === "daemon-reload") await rm(unitPath, { force: true });
    const res = await io.run(argv);
    if (o.verb === "status") {
      if (res.code === 0) {
        io.out(`${o.service}: Service is running`);
        return 0;
      }
      io.err(`${o.service}: Service has stopped`);
      return 1;
    }
    if (res.code !== 0) {
      io.logger.fatal(
        { command: argv.join(" "), code: res.code, stderr: res.stderr.trim() },
        `${o.verb} failed`,
      );
      return 1;
    }
  }
  return 0;
}
