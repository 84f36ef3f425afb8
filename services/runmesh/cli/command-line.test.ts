// Table tests of the command line as GitLab Runner users type it: global flags before the verb,
// each verb's own options (others refused, naming who has them), GitLab Runner's environment
// variables, the stock systemd unit's and the official image's command lines, --version.
import { describe, expect, test } from "bun:test";
import { defaultConfigFile, effectiveLogLevel, parseCommandLine, tierArgv } from "./command-line.ts";
import { appHelp, verbHelp, versionText } from "./help-text.ts";
import { VERBS } from "./verbs.ts";

const parse = (argv: string[], env: Record<string, string> = {}) => parseCommandLine(argv, env);

function options(argv: string[], env: Record<string, string> = {}) {
  const r = parse(argv, env);
  if (!r.ok) throw new Error(r.message);
  if (r.value.kind !== "verb") throw new Error(`not a verb: ${r.value.kind}`);
  return r.value;
}

function refusal(argv: string[], env: Record<string, string> = {}): string {
  const r = parse(argv, env);
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(r.value)}`);
  return r.message;
}

describe("command lines GitLab Runner's packaging uses start runmesh unchanged", () => {
  test.each([
    [
      "stock systemd unit (service install)",
      [
        "run",
        "--working-directory",
        "/home/gitlab-runner",
        "--config",
        "/etc/gitlab-runner/config.toml",
        "--service",
        "gitlab-runner",
        "--user",
        "gitlab-runner",
      ],
    ],
    [
      "unit written by newer GitLab Runner (config first)",
      [
        "run",
        "--config",
        "/etc/gitlab-runner/config.toml",
        "--working-directory",
        "/home/gitlab-runner",
        "--service",
        "gitlab-runner",
        "--user",
        "gitlab-runner",
      ],
    ],
    ["official image CMD", ["run", "--user=gitlab-runner", "--working-directory=/home/gitlab-runner"]],
  ])("%s", (_, argv) => {
    const v = options(argv);
    expect(v.verb.name).toBe("run");
    expect(v.options.user).toBe("gitlab-runner");
    expect(v.options["working-directory"]).toBe("/home/gitlab-runner");
  });

  test("short forms of run: -c -d -u -n", () => {
    const v = options([
      "run",
      "-c",
      "/c.toml",
      "-d",
      "/wd",
      "-u",
      "u1",
      "-n",
      "svc",
      "--syslog",
      "--listen-address",
      ":9252",
    ]);
    expect(v.options).toMatchObject({
      config: "/c.toml",
      "working-directory": "/wd",
      user: "u1",
      service: "svc",
      syslog: true,
      "listen-address": ":9252",
    });
  });
});

describe("global options", () => {
  test.each([
    [["--debug", "list"], { debug: true }, "debug"],
    [["--log-level", "warn", "list"], { logLevel: "warn" }, "warn"],
    [["-l", "error", "list"], { logLevel: "error" }, "error"],
    [["--log-level=panic", "list"], { logLevel: "panic" }, "panic"],
    [["--log-format", "json", "list"], { logFormat: "json" }, undefined],
    [["--debug", "--log-level", "error", "list"], { debug: true, logLevel: "error" }, "debug"],
  ])("%p → %p (effective level %p)", (argv, globals, level) => {
    const v = options(argv as string[]);
    expect(v.globals).toMatchObject(globals);
    expect(effectiveLogLevel(v.globals)).toBe(level);
  });

  test.each([
    [{ RUNNER_DEBUG: "true" }, { debug: true }],
    [{ LOG_LEVEL: "warn" }, { logLevel: "warn" }],
    [{ LOG_FORMAT: "text" }, { logFormat: "text" }],
  ])("from GitLab Runner's environment variable %p", (env, globals) => {
    expect(options(["list"], env).globals).toMatchObject(globals);
  });

  test("the flag beats the environment variable", () => {
    expect(options(["--log-level", "error", "list"], { LOG_LEVEL: "warn" }).globals.logLevel).toBe("error");
  });

  test.each([
    [["run", "--debug"], "--debug is a global option: put it before the verb"],
    [["run", "--log-level", "debug"], "--log-level is a global option"],
    [["verify", "-l", "debug"], "-l is a global option"],
    [["--log-format", "xml", "list"], 'unknown log format "xml", expected one of: runner, text, json'],
    [
      ["--config", "x.toml", "run"],
      "--config is not a global option: it is an option of a verb, put it after the verb",
    ],
    [["--bogus", "run"], "--bogus is not a global option"],
  ])("%p is refused: %s", (argv, message) => {
    expect(refusal(argv)).toContain(message);
  });
});

describe("each verb takes its own options only", () => {
  test.each([
    [
      ["verify", "--all-runners"],
      "--all-runners is not an option of verify (it is an option of unregister, reset-token)",
    ],
    [["unregister", "--delete"], "--delete is not an option of unregister (it is an option of verify)"],
    [["list", "--name", "x"], "--name is not an option of list"],
    [["run", "--non-interactive"], "--non-interactive is not an option of run (it is an option of register)"],
    [["reset-token", "--token", "t"], "--token is not an option of reset-token"],
    [
      ["status", "--user", "u"],
      "--user is not an option of status (it is an option of run, install, worker)",
    ],
    [
      ["verify", "--delete", "true"],
      'unexpected argument "true": verify takes options only (boolean options take --flag or --flag=true',
    ],
    [["verify", "--delete=maybe"], '--delete: expected true or false, got "maybe"'],
    [["verify", "--name"], "--name needs a value (NAME)"],
    [["frobnicate"], "Command frobnicate not found."],
  ])("%p → %s", (argv, message) => {
    expect(refusal(argv)).toContain(message);
  });

  test.each([
    [["verify", "--delete=true"], { delete: true }],
    [["verify", "--delete=false"], { delete: false }],
    [["verify", "-n", "r1", "--delete"], { name: "r1", delete: true }],
    [["verify", "-u", "https://g", "-t", "glrt-x"], { url: "https://g", token: "glrt-x" }],
    [["unregister", "--all-runners"], { "all-runners": true }],
    [["unregister", "--url", "https://g", "--token", "glrt-x"], { url: "https://g", token: "glrt-x" }],
    [["reset-token", "-n", "r1"], { name: "r1" }],
    [["reset-token", "--url", "https://g", "--id", "12"], { url: "https://g", id: "12" }],
    [["register", "--name", "r1"], { description: "r1" }],
    [
      ["register", "--description", "r1", "--env", "A=1", "--env", "B=2"],
      { description: "r1", env: ["A=1", "B=2"] },
    ],
    [
      ["install", "--user", "gitlab-runner", "-d", "/home/gitlab-runner"],
      { user: "gitlab-runner", "working-directory": "/home/gitlab-runner" },
    ],
    [["worker", "--id", "w1", "--slots", "4"], { id: "w1", slots: "4" }],
  ])("%p → %p", (argv, values) => {
    const v = options(argv);
    expect(v.options).toEqual(expect.objectContaining(values));
    if (!("delete" in values) && argv[0] === "verify") expect(v.options.delete).toBeUndefined();
  });

  test.each([
    [
      ["register"],
      {
        CI_SERVER_URL: "https://g",
        CI_SERVER_TOKEN: "glrt-x",
        RUNNER_EXECUTOR: "shell",
        REGISTER_NON_INTERACTIVE: "true",
      },
      { url: "https://g", token: "glrt-x", executor: "shell", "non-interactive": true },
    ],
    [
      ["unregister"],
      { CI_SERVER_URL: "https://g", CI_SERVER_TOKEN: "glrt-x" },
      { url: "https://g", token: "glrt-x" },
    ],
    [
      ["run"],
      { CONFIG_FILE: "/c.toml", LISTEN_ADDRESS: ":9252", LOG_SYSLOG: "1" },
      { config: "/c.toml", "listen-address": ":9252", syslog: true },
    ],
    [["register", "--url", "https://flag"], { CI_SERVER_URL: "https://env" }, { url: "https://flag" }],
  ])("%p reads %p", (argv, env, values) => {
    expect(options(argv, env).options).toEqual(expect.objectContaining(values));
  });

  test("verify ignores CI_SERVER_URL / CI_SERVER_TOKEN, as GitLab Runner does (a stray one must not narrow it)", () => {
    expect(options(["verify"], { CI_SERVER_URL: "https://g", CI_SERVER_TOKEN: "glrt-x" }).options).toEqual(
      {},
    );
  });
});

describe("a verb of two words", () => {
  test("`autoscaler simulate` takes its own options; `autoscaler` alone is the tier", () => {
    const sim = options(["autoscaler", "simulate", "--trace", "a.csv", "-c", "/c.toml", "--boot", "30"]);
    expect([sim.verb.name, sim.options]).toEqual([
      "autoscaler simulate",
      { trace: "a.csv", config: "/c.toml", boot: "30" },
    ]);
    const tier = options(["autoscaler", "--nats", "nats://n:4222"]);
    expect([tier.verb.name, tier.options.nats]).toEqual(["autoscaler", "nats://n:4222"]);
    expect(refusal(["autoscaler", "--trace", "a.csv"])).toContain("--trace is not an option of autoscaler");
    // The per-tier binary: `runmesh-autoscaler -l debug simulate --trace a.csv`.
    expect(options(tierArgv("autoscaler", ["-l", "debug", "simulate", "--trace", "a.csv"])).verb.name).toBe(
      "autoscaler simulate",
    );
  });
});

describe("help, version, defaults", () => {
  test.each([[[]], [["--help"]], [["-h"]], [["help"]]])("%p shows the app help", (argv) => {
    const r = parse(argv);
    expect(r.ok && r.value.kind).toBe("help");
  });

  test("verb help: `help verify`, `verify --help`", () => {
    for (const argv of [
      ["help", "verify"],
      ["verify", "--help"],
      ["verify", "-h"],
    ]) {
      const r = parse(argv);
      expect(r.ok && r.value.kind === "help" && r.value.verb?.name).toBe("verify");
    }
  });

  test.each([[["--version"]], [["-v"]]])("%p prints the version", (argv) => {
    const r = parse(argv);
    expect(r.ok && r.value.kind).toBe("version");
  });

  test("--version is GitLab Runner's multi-line block, naming runmesh", () => {
    const text = versionText({
      version: "0.1.0",
      revision: "abc12345",
      runtime: "1.4.5",
      os: "linux",
      arch: "amd64",
    });
    expect(text.split("\n").map((l) => l.split(":")[0])).toEqual([
      "Name",
      "Version",
      "Git revision",
      "Git branch",
      "Bun version",
      "Built",
      "OS/Arch",
      "",
    ]);
    expect(text).toContain("Name:         runmesh\nVersion:      0.1.0\nGit revision: abc12345\n");
    expect(text).toContain("OS/Arch:      linux/amd64\n");
  });

  test("help lists every verb and every option of a verb with its env var", () => {
    const app = appHelp("0.1.0");
    for (const v of VERBS) expect(app).toContain(`   ${v.name} `);
    expect(app).toContain("EXIT CODES:");
    const register = verbHelp(VERBS.find((v) => v.name === "register")!);
    expect(register).toContain("--url URL");
    expect(register).toContain("[$CI_SERVER_URL]");
    expect(register).toContain("--description, --name NAME");
  });

  test.each([
    [{ uid: 0, home: "/root", cwd: "/x" }, "/etc/gitlab-runner/config.toml"],
    [{ uid: 1000, home: "/home/u", cwd: "/x" }, "/home/u/.gitlab-runner/config.toml"],
    [{ uid: 1000, cwd: "/x" }, "/x/config.toml"],
  ])("default config file for %p is %s", (who, path) => {
    expect(defaultConfigFile(who)).toBe(path);
  });
});

test.each([
  [
    ["--config", "c.toml"],
    ["poller", "--config", "c.toml"],
  ],
  [
    ["--log-level", "debug", "--config", "c.toml"],
    ["--log-level", "debug", "poller", "--config", "c.toml"],
  ],
  [
    ["--config", "c.toml", "--debug", "--log-format=json"],
    ["--debug", "--log-format=json", "poller", "--config", "c.toml"],
  ],
  [
    ["-l", "warn", "--nats", "nats://x"],
    ["-l", "warn", "poller", "--nats", "nats://x"],
  ],
])("a per-tier binary (runmesh-poller %p) takes global options anywhere", (argv, expected) => {
  expect(tierArgv("poller", argv)).toEqual(expected);
  expect(parseCommandLine(expected, {}).ok).toBe(true);
});
