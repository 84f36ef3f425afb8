// The service verbs write the unit GitLab Runner's `install` writes and drive it with the
// systemctl calls kardianos/service makes. systemd is not PID 1 here: the unit is checked with
// `systemd-analyze verify` (no error, no warning) and the commands are recorded, not run.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { parseCommandLine } from "../cli/command-line.ts";
import { defaultCliContext } from "./cli-context.ts";
import { runManagementVerb, runmeshExecutable } from "./run-verb.ts";
import { type CommandResult, quoteExecArg, serviceArguments, systemctlCalls, unitText } from "./service.ts";

const ROOT = join(import.meta.dir, "..", "..", "..");
const hasSystemdAnalyze = Bun.which("systemd-analyze") !== null;

function harness(answer: (argv: string[]) => CommandResult = () => ({ code: 0, stdout: "", stderr: "" })) {
  const dir = mkdtempSync(join(tmpdir(), "runmesh-service-"));
  const calls: string[][] = [];
  const logs: string[] = [];
  const out: string[] = [];
  const logger = pino({ level: "debug" }, { write: (l: string) => logs.push(l) });
  const ctx = { ...defaultCliContext(logger), out: (l: string) => out.push(l) };
  const unitDir = join(dir, "units");
  return {
    dir,
    unitDir,
    calls,
    logs,
    out,
    async run(...argv: string[]) {
      const parsed = parseCommandLine([...argv, "--unit-dir", unitDir], {});
      if (!parsed.ok || parsed.value.kind !== "verb")
        throw new Error(parsed.ok ? "not a verb" : parsed.message);
      return runManagementVerb(parsed.value.verb.name, parsed.value.options, parsed.value.globals, {
        ctx,
        run: async (a) => {
          calls.push(a);
          return answer(a);
        },
      });
    },
  };
}

describe("install", () => {
  test("writes GitLab Runner's unit: ExecStart runs `run` with the stock options, Restart=always; then daemon-reload and enable", async () => {
    const h = harness();
    const config = join(h.dir, "etc", "config.toml");
    const home = join(h.dir, "home");
    const code = await h.run(
      "install",
      "--user",
      "gitlab-runner",
      "--working-directory",
      home,
      "--config",
      config,
    );
    expect(code).toBe(0);
    const unit = readFileSync(join(h.unitDir, "gitlab-runner.service"), "utf8");
    const exe = runmeshExecutable();
    expect(unit).toContain(
      `ExecStart="${exe}" "run" "--config" "${config}" "--working-directory" "${home}" "--service" "gitlab-runner" "--user" "gitlab-runner"\n`,
    );
    expect(unit).toContain("Restart=always\nRestartSec=120\n");
    expect(unit).toContain("[Install]\nWantedBy=multi-user.target\n");
    expect(h.calls).toEqual([
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "gitlab-runner.service"],
    ]);
    // service.go saves a config the first time
    expect(readFileSync(config, "utf8")).toContain("concurrent = 1");
  });

  test.skipIf(!hasSystemdAnalyze)(
    "the written unit passes systemd-analyze verify with no error or warning",
    async () => {
      const h = harness();
      const code = await h.run(
        "install",
        "--service",
        "runmesh-verify-test",
        "--user",
        "gitlab-runner",
        "--working-directory",
        join(h.dir, "home dir with spaces"),
        "--config",
        join(h.dir, "100%", "config.toml"),
        "--syslog",
      );
      expect(code).toBe(0);
      const path = join(h.unitDir, "runmesh-verify-test.service");
      // systemd-analyze logs its warnings to the journal unless told otherwise: on the console, an
      // empty stderr really means no warning.
      const onConsole = { env: { ...process.env, SYSTEMD_LOG_TARGET: "console" } };
      const check = Bun.spawnSync(["systemd-analyze", "verify", path], onConsole);
      expect({
        code: check.exitCode,
        stderr: check.stderr.toString(),
        stdout: check.stdout.toString(),
      }).toEqual({
        code: 0,
        stderr: "",
        stdout: "",
      });
      // And the check can fail: the same unit with an executable that is not there.
      const broken = join(h.unitDir, "runmesh-broken.service");
      writeFileSync(
        broken,
        readFileSync(path, "utf8").replaceAll(runmeshExecutable(), "/nonexistent/runmesh"),
      );
      const failed = Bun.spawnSync(["systemd-analyze", "verify", broken], onConsole);
      expect(failed.exitCode).not.toBe(0);
      expect(failed.stderr.toString()).toContain("/nonexistent/runmesh");
    },
  );

  test("the unit's command line, read back as systemd splits it, is one runmesh accepts", () => {
    const args = serviceArguments({
      service: "gitlab-runner",
      executable: "/usr/bin/runmesh",
      config: "/etc/gitlab-runner/config.toml",
      workingDirectory: "/home/gitlab-runner",
      syslog: true,
      user: "gitlab-runner",
    });
    const parsed = parseCommandLine(args, {});
    expect(parsed.ok && parsed.value.kind === "verb" && parsed.value.options).toEqual({
      config: "/etc/gitlab-runner/config.toml",
      "working-directory": "/home/gitlab-runner",
      service: "gitlab-runner",
      syslog: true,
      user: "gitlab-runner",
    });
  });

  test.skipIf(process.getuid?.() !== 0).each([
    [[], "Please specify user that will run gitlab-runner service"],
    [["--user", "a", "--init-user", "b"], "Only one of 'user' or 'init-user' can be specified."],
  ])("as root (skipped otherwise: the check is root-only), %p is refused: %s", async (extra, message) => {
    const h = harness();
    expect(await h.run("install", "--config", join(h.dir, "c.toml"), ...(extra as string[]))).toBe(1);
    expect(h.logs.join("\n")).toContain(message as string);
    expect(h.calls).toEqual([]);
  });

  test("--init-user runs runmesh itself as that user (User=) and keeps jobs' user unset", () => {
    const unit = unitText({
      service: "s",
      executable: "/usr/bin/runmesh",
      config: "/c.toml",
      syslog: false,
      initUser: "gitlab-runner",
    });
    expect(unit).toContain("\nUser=gitlab-runner\n");
    expect(unit).not.toContain('"--user"');
  });
});

describe("uninstall, start, stop, restart, status", () => {
  test.each([
    ["start", [["systemctl", "start", "gitlab-runner.service"]]],
    ["stop", [["systemctl", "stop", "gitlab-runner.service"]]],
    ["restart", [["systemctl", "restart", "gitlab-runner.service"]]],
    [
      "uninstall",
      [
        ["systemctl", "disable", "gitlab-runner.service"],
        ["systemctl", "daemon-reload"],
      ],
    ],
  ])("%s runs %p", async (verb, calls) => {
    const h = harness();
    expect(await h.run("install", "--user", "u", "--config", join(h.dir, "c.toml"))).toBe(0);
    h.calls.length = 0;
    expect(await h.run(verb)).toBe(0);
    expect(h.calls).toEqual(calls);
    expect(existsSync(join(h.unitDir, "gitlab-runner.service"))).toBe(verb !== "uninstall");
    expect(systemctlCalls(verb as "start", "gitlab-runner")).toEqual(calls);
  });

  test("status: 0 and 'Service is running' when systemctl is-active says so, else 1 'Service has stopped'", async () => {
    let active = true;
    const h = harness(() => ({ code: active ? 0 : 3, stdout: "", stderr: "" }));
    expect(await h.run("install", "--user", "u", "--config", join(h.dir, "c.toml"), "-n", "my-runner")).toBe(
      0,
    );
    expect(await h.run("status", "--service", "my-runner")).toBe(0);
    expect(h.out).toEqual(["my-runner: Service is running"]);
    active = false;
    expect(await h.run("status", "--service", "my-runner")).toBe(1);
    expect(h.calls.at(-1)).toEqual(["systemctl", "is-active", "my-runner.service"]);
  });

  test("a verb on a service that is not installed fails without calling systemctl", async () => {
    const h = harness();
    expect(await h.run("start")).toBe(1);
    expect(await h.run("status")).toBe(1);
    expect(h.calls).toEqual([]);
  });

  test("a failing systemctl fails the verb (exit 1) and names the command", async () => {
    const h = harness((a) => ({ code: a[1] === "start" ? 5 : 0, stdout: "", stderr: "Unit not found." }));
    expect(await h.run("install", "--user", "u", "--config", join(h.dir, "c.toml"))).toBe(0);
    expect(await h.run("start")).toBe(1);
    expect(h.logs.join("\n")).toContain("systemctl start gitlab-runner.service");
  });
});

test("ExecStart words are quoted for systemd: quotes, backslashes, % and $ escaped", () => {
  expect(quoteExecArg('a "b" \\c %d $e')).toBe('"a \\"b\\" \\\\c %%d $$e"');
});

test("from source the unit runs bin/runmesh; a compiled binary runs itself", () => {
  expect(runmeshExecutable(join(ROOT, "node_modules", "bun", "bin", "bun.exe"))).toBe(
    join(ROOT, "bin", "runmesh"),
  );
  expect(runmeshExecutable("/usr/local/bin/bun")).toBe(join(ROOT, "bin", "runmesh"));
  expect(runmeshExecutable("/usr/bin/runmesh")).toBe("/usr/bin/runmesh");
});
