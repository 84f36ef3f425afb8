// The management verbs end to end against the strict test coordinator: what GitLab receives
// (route, token, system_id), what config.toml becomes, and the exit code. Most run in-process
// through runManagementVerb (the same function bin/runmesh calls); one of each kind runs
// bin/runmesh itself, to prove the wiring and the exit codes a script sees.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { parse } from "smol-toml";
import { type Coordinator, startCoordinator } from "../../../tests/coordinator/coordinator.ts";
import { parseCommandLine } from "../cli/command-line.ts";
import { type CliContext, defaultCliContext } from "./cli-context.ts";
import { runManagementVerb } from "./run-verb.ts";

const ROOT = join(import.meta.dir, "..", "..", "..");
const SYSTEM_ID = "s_0123456789ab";

let coordinator: Coordinator | undefined;
afterEach(async () => {
  await coordinator?.stop();
  coordinator = undefined;
});

interface Setup {
  c: Coordinator;
  dir: string;
  path: string;
  logs: string[];
  out: string[];
  ctx: CliContext;
  /** Runs `runmesh <argv>` in-process; returns the exit code. */
  run(...argv: string[]): Promise<number>;
  config(): { runners?: Record<string, unknown>[] };
}

async function setup(body: (url: string) => string): Promise<Setup> {
  const c = await startCoordinator({ longPollMs: 0 });
  coordinator = c;
  const dir = mkdtempSync(join(tmpdir(), "runmesh-verbs-"));
  const path = join(dir, "config.toml");
  writeFileSync(path, body(c.url));
  writeFileSync(join(dir, ".runner_system_id"), SYSTEM_ID);
  const logs: string[] = [];
  const out: string[] = [];
  const logger = pino({ level: "debug" }, { write: (l: string) => logs.push(l) });
  const ctx: CliContext = {
    ...defaultCliContext(logger),
    out: (l) => out.push(l),
    now: () => new Date("2026-11-30T00:00:00Z"),
  };
  return {
    c,
    dir,
    path,
    logs,
    out,
    ctx,
    async run(...argv) {
      const parsed = parseCommandLine(argv, {});
      if (!parsed.ok || parsed.value.kind !== "verb") throw new Error(`bad command line ${argv.join(" ")}`);
      return runManagementVerb(
        parsed.value.verb.name,
        { config: path, ...parsed.value.options },
        parsed.value.globals,
        { ctx },
      );
    },
    config: () => parse(readFileSync(path, "utf8")) as { runners?: Record<string, unknown>[] },
  };
}

const entry = (name: string, url: string, token: string, extra = "") =>
  `\n# ${name}, kept by hand\n[[runners]]\n  name = "${name}"\n  url = "${url}"\n  token = "${token}"\n  executor = "shell"\n${extra}`;

const names = (s: Setup) => (s.config().runners ?? []).map((r) => r.name);

async function runmeshBin(argv: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn([join(ROOT, "bin", "runmesh"), ...argv], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { stdout, stderr, code };
}

describe("verify", () => {
  test("every entry is checked with runners/verify and this manager's system_id; all valid → 0, file untouched", async () => {
    const s = await setup((u) => `concurrent = 2\n${entry("a", u, "glrt-a")}${entry("b", u, "glrt-b")}`);
    s.c.registerRunner("glrt-a");
    s.c.registerRunner("glrt-b");
    const before = readFileSync(s.path, "utf8");
    expect(await s.run("verify")).toBe(0);
    const calls = s.c.calls("POST runners/verify");
    expect(calls.map((r) => (r.body as { token: string }).token)).toEqual(["glrt-a", "glrt-b"]);
    expect(calls.every((r) => (r.body as { system_id: string }).system_id === SYSTEM_ID)).toBe(true);
    expect([...s.c.managers("glrt-a").keys()]).toEqual([SYSTEM_ID]);
    expect(readFileSync(s.path, "utf8")).toBe(before);
  });

  test("an entry GitLab answers 403 for fails verify (exit 1) and stays without --delete", async () => {
    const s = await setup((u) => `${entry("a", u, "glrt-a")}${entry("gone", u, "glrt-gone")}`);
    s.c.registerRunner("glrt-a");
    const before = readFileSync(s.path, "utf8");
    expect(await s.run("verify")).toBe(1);
    expect(readFileSync(s.path, "utf8")).toBe(before);
    expect(s.logs.join("\n")).toContain("Failed to verify runners");
  });

  test("--delete removes it (exit 0), keeping the other entry and the file's comments", async () => {
    const s = await setup(
      (u) => `# top comment\nconcurrent = 2\n${entry("gone", u, "glrt-gone")}${entry("a", u, "glrt-a")}`,
    );
    s.c.registerRunner("glrt-a");
    expect(await s.run("verify", "--delete")).toBe(0);
    expect(names(s)).toEqual(["a"]);
    const text = readFileSync(s.path, "utf8");
    expect(text).toContain("# top comment");
    expect(text).toContain("# a, kept by hand");
    expect(text).not.toContain("glrt-gone");
  });

  test("a 500 is not a verdict: the entry is kept and verify does not fail on it", async () => {
    const s = await setup((u) => entry("a", u, "glrt-a"));
    s.c.registerRunner("glrt-a");
    s.c.script("POST runners/verify", ...Array.from({ length: 5 }, () => ({ status: 500 })));
    expect(await s.run("verify", "--delete")).toBe(0);
    expect(names(s)).toEqual(["a"]);
  });

  test("--name selects one entry; a selector that matches none fails", async () => {
    const s = await setup((u) => `${entry("a", u, "glrt-a")}${entry("b", u, "glrt-b")}`);
    s.c.registerRunner("glrt-a");
    expect(await s.run("verify", "--name", "a")).toBe(0);
    expect(s.c.calls("POST runners/verify")).toHaveLength(1);
    expect(await s.run("verify", "--name", "nope")).toBe(1);
    expect(s.logs.join("\n")).toContain("no runner matches the filtering parameters");
  });

  test("bin/runmesh verify: exit 1 on a removed runner, 0 after --delete", async () => {
    const s = await setup((u) => `${entry("gone", u, "glrt-gone")}`);
    const first = await runmeshBin(["verify", "--config", s.path]);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("is removed");
    const second = await runmeshBin(["verify", "-c", s.path, "--delete"]);
    expect(second.code).toBe(0);
    expect(names(s)).toEqual([]);
  });
});

describe("unregister", () => {
  test("a glrt- runner: DELETE runners/managers with the system_id GitLab has seen; the runner itself stays in GitLab", async () => {
    const s = await setup((u) => `${entry("a", u, "glrt-a")}${entry("b", u, "glrt-b")}`);
    s.c.registerRunner("glrt-a");
    s.c.registerRunner("glrt-b");
    expect(await s.run("verify")).toBe(0); // GitLab now knows this manager
    expect(await s.run("unregister", "--name", "a")).toBe(0);
    const del = s.c.calls("DELETE runners/managers");
    expect(del).toHaveLength(1);
    expect(del[0]!.body).toEqual({ token: "glrt-a", system_id: SYSTEM_ID });
    expect(del[0]!.status).toBe(204);
    expect(s.c.calls("DELETE runners")).toHaveLength(0);
    expect(s.c.managers("glrt-a").size).toBe(0); // the runner is still registered at GitLab
    expect(names(s)).toEqual(["b"]);
  });

  test("a manager GitLab never saw: 404 from GitLab, exit 1, the entry stays", async () => {
    const s = await setup((u) => entry("a", u, "glrt-a"));
    s.c.registerRunner("glrt-a");
    expect(await s.run("unregister", "--token", "glrt-a")).toBe(1);
    expect(s.c.calls("DELETE runners/managers")[0]!.status).toBe(404);
    expect(names(s)).toEqual(["a"]);
  });

  test("a legacy token unregisters the whole runner with DELETE runners", async () => {
    const s = await setup((u) => entry("old", u, "legacy-token-1"));
    s.c.registerRunner("legacy-token-1");
    expect(await s.run("unregister", "--url", s.c.url, "--token", "legacy-token-1")).toBe(0);
    expect(s.c.calls("DELETE runners")).toHaveLength(1);
    expect(s.c.calls("DELETE runners/managers")).toHaveLength(0);
    expect(names(s)).toEqual([]);
  });

  test("--all-runners: those GitLab refuses stay, exit 1", async () => {
    const s = await setup((u) => `${entry("a", u, "glrt-a")}${entry("b", u, "glrt-b")}`);
    s.c.registerRunner("glrt-a");
    expect(await s.run("verify", "--name", "a")).toBe(0);
    expect(await s.run("unregister", "--all-runners")).toBe(1);
    expect(names(s)).toEqual(["b"]);
  });

  test("neither --name nor --token: refused before GitLab is asked", async () => {
    const s = await setup((u) => entry("a", u, "glrt-a"));
    expect(await s.run("unregister")).toBe(1);
    expect(s.logs.join("\n")).toContain("at least one of --name or --token must be specified");
    expect(s.c.requests).toHaveLength(0);
  });
});

describe("register", () => {
  test("with an authentication token: runners/verify, then a new entry with GitLab's id, the token and its date", async () => {
    const s = await setup(() => "# existing file\nconcurrent = 3\n");
    s.c.registerRunner("glrt-new");
    const code = await s.run(
      "register",
      "--non-interactive",
      "--url",
      s.c.url,
      "--token",
      "glrt-new",
      "--executor",
      "shell",
      "--name",
      "fresh",
      "--builds-dir",
      "/srv/builds",
      "--env",
      "A=1",
      "--limit",
      "2",
    );
    expect(code).toBe(0);
    const verify = s.c.calls("POST runners/verify");
    expect(verify).toHaveLength(1);
    expect((verify[0]!.body as { system_id: string }).system_id).toBe(SYSTEM_ID);
    const text = readFileSync(s.path, "utf8");
    expect(text.startsWith("# existing file\nconcurrent = 3\n")).toBe(true);
    const r = s.config().runners![0]!;
    expect(r).toMatchObject({
      name: "fresh",
      url: s.c.url,
      token: "glrt-new",
      executor: "shell",
      builds_dir: "/srv/builds",
      environment: ["A=1"],
      limit: 2,
    });
    expect(typeof r.id).toBe("number");
    expect((r.token_obtained_at as Date).toISOString()).toBe("2026-11-30T00:00:00.000Z");
  });

  test("a docker runner gets its image and GitLab Runner's /cache volume", async () => {
    const s = await setup(() => "");
    s.c.registerRunner("glrt-d");
    const code = await s.run(
      "register",
      "-n",
      "--url",
      s.c.url,
      "-t",
      "glrt-d",
      "--executor",
      "docker",
      "--docker-image",
      "alpine:3",
    );
    expect(code).toBe(0);
    expect(s.config().runners![0]!.docker).toEqual({
      image: "alpine:3",
      privileged: false,
      volumes: ["/cache"],
    });
  });

  test("a token GitLab does not know: exit 1, nothing written", async () => {
    const s = await setup(() => "concurrent = 1\n");
    expect(await s.run("register", "-n", "--url", s.c.url, "-t", "glrt-unknown", "--executor", "shell")).toBe(
      1,
    );
    expect(readFileSync(s.path, "utf8")).toBe("concurrent = 1\n");
    expect(s.logs.join("\n")).toContain("Failed to verify the runner");
  });

  test.each([
    [["--tag-list", "a,b"], "reserved (--tag-list)"],
    [["--paused"], "reserved (--paused)"],
    [["--locked=false"], "reserved (--locked)"],
    [["--executor", "nope"], "Invalid executor specified"],
    [["--docker-image", "x"], "--docker-image does not apply to the shell executor"],
  ])("refused before GitLab is asked: %p", async (extra, message) => {
    const s = await setup(() => "");
    const argv = ["register", "-n", "--url", s.c.url, "-t", "glrt-x", ...extra];
    if (!extra.includes("--executor")) argv.push("--executor", "shell");
    expect(await s.run(...argv)).toBe(1);
    expect(s.logs.join("\n")).toContain(message);
    expect(s.c.requests).toHaveLength(0);
  });

  test("a registration token (legacy, -r): POST runners with GitLab Runner's parameters; config.toml gets the runner's own token", async () => {
    const s = await setup(() => "");
    s.c.acceptRegistrationToken("GR1348941legacy");
    const code = await s.run(
      "register",
      "-n",
      "--url",
      s.c.url,
      "-r",
      "GR1348941legacy",
      "--executor",
      "shell",
      "--name",
      "old-style",
      "--tag-list",
      "a,b",
      "--locked=false",
      "--access-level",
      "ref_protected",
      "--maximum-timeout",
      "600",
      "--maintenance-note",
      "note",
    );
    expect(code).toBe(0);
    const call = s.c.calls("POST runners");
    expect(call).toHaveLength(1);
    expect(call[0]!.status).toBe(201);
    expect(call[0]!.body).toMatchObject({
      token: "GR1348941legacy",
      description: "old-style",
      tag_list: "a,b",
      run_untagged: false,
      locked: false,
      access_level: "ref_protected",
      maximum_timeout: 600,
      paused: false,
      maintenance_note: "note",
    });
    expect((call[0]!.body as { info: { features: object } }).info.features).toBeDefined();
    const r = s.config().runners![0]!;
    expect(String(r.token)).toStartWith("glrtr-");
    expect(r.token).not.toBe("GR1348941legacy");
    expect(r.name).toBe("old-style");
    expect(typeof r.id).toBe("number");
    expect(s.logs.join("\n")).toContain("deprecated");
  });

  test("without tags a registration-token runner runs untagged jobs, as register.go sets it", async () => {
    const s = await setup(() => "");
    s.c.acceptRegistrationToken("GR1348941x");
    expect(await s.run("register", "-n", "--url", s.c.url, "-r", "GR1348941x", "--executor", "shell")).toBe(
      0,
    );
    expect(s.c.calls("POST runners")[0]!.body).toMatchObject({
      run_untagged: true,
      locked: true,
      paused: false,
    });
  });

  test.each([
    [{}, 403, "forbidden (check registration token)"],
    [{ gone: true }, 410, "Failed to register the runner."],
  ])(
    "a registration token GitLab refuses (%p): %d, exit 1, nothing written",
    async (opts, status, message) => {
      const s = await setup(() => "concurrent = 1\n");
      if ("gone" in opts) s.c.acceptRegistrationToken("GR1348941r", opts);
      expect(await s.run("register", "-n", "--url", s.c.url, "-r", "GR1348941r", "--executor", "shell")).toBe(
        1,
      );
      expect(s.c.calls("POST runners")[0]!.status).toBe(status);
      expect(readFileSync(s.path, "utf8")).toBe("concurrent = 1\n");
      expect(s.logs.join("\n")).toContain(message);
    },
  );

  test("an existing legacy runner's token in --token is verified and written as it is", async () => {
    const s = await setup(() => "");
    s.c.registerRunner("legacy-runner-token");
    expect(
      await s.run("register", "-n", "--url", s.c.url, "-t", "legacy-runner-token", "--executor", "shell"),
    ).toBe(0);
    expect(s.c.calls("POST runners/verify")).toHaveLength(1);
    expect(s.c.calls("POST runners")).toHaveLength(0);
    expect(s.config().runners![0]!.token).toBe("legacy-runner-token");
  });

  test.each([
    [["-r", "GR1348941x", "--access-level", "everyone"], "Given access-level is not valid"],
    [["-r", "GR1348941x", "--maximum-timeout", "soon"], "--maximum-timeout: expected a whole number"],
    [
      ["-t", "legacy-runner-token", "--tag-list", "a"],
      "apply only when registering with a registration token (-r)",
    ],
  ])("legacy options checked before GitLab is asked: %p", async (extra, message) => {
    const s = await setup(() => "");
    expect(await s.run("register", "-n", "--url", s.c.url, "--executor", "shell", ...extra)).toBe(1);
    expect(s.logs.join("\n")).toContain(message);
    expect(s.c.requests).toHaveLength(0);
  });

  test("a glrt- token given as --registration-token: server-side options are warned about and ignored", async () => {
    const s = await setup(() => "");
    s.c.registerRunner("glrt-in-r");
    expect(
      await s.run(
        "register",
        "-n",
        "--url",
        s.c.url,
        "-r",
        "glrt-in-r",
        "--tag-list",
        "x",
        "--executor",
        "shell",
      ),
    ).toBe(0);
    expect(s.c.calls("POST runners")).toHaveLength(0);
    expect(s.c.calls("POST runners/verify")).toHaveLength(1);
    expect(s.logs.join("\n")).toContain("legacy parameter --registration-token: ignoring --tag-list");
  });

  test("bin/runmesh register with GitLab Runner's environment variables into a new config file", async () => {
    const s = await setup(() => "");
    s.c.registerRunner("glrt-env");
    const path = join(s.dir, "sub", "config.toml");
    const res = await runmeshBin(["register"], {
      CONFIG_FILE: path,
      REGISTER_NON_INTERACTIVE: "true",
      CI_SERVER_URL: s.c.url,
      CI_SERVER_TOKEN: "glrt-env",
      RUNNER_EXECUTOR: "shell",
      RUNNER_NAME: "from-env",
    });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain("Runner registered successfully");
    expect(res.stderr).not.toContain("glrt-env");
    const doc = parse(readFileSync(path, "utf8")) as { concurrent: number; runners: { name: string }[] };
    expect(doc.concurrent).toBe(1);
    expect(doc.runners.map((r) => r.name)).toEqual(["from-env"]);
    expect(existsSync(join(s.dir, "sub", ".runner_system_id"))).toBe(true);
  });
});

describe("reset-token", () => {
  test("--name: a new token from GitLab is written back with its date; the old one stops working", async () => {
    const s = await setup(
      (u) => `concurrent = 1 # keep\n${entry("a", u, "glrt-old")}${entry("b", u, "glrt-b")}`,
    );
    s.c.registerRunner("glrt-old");
    s.c.registerRunner("glrt-b");
    expect(await s.run("reset-token", "--name", "a")).toBe(0);
    const call = s.c.calls("POST runners/reset_authentication_token");
    expect(call).toHaveLength(1);
    expect(call[0]!.body).toEqual({ token: "glrt-old" });
    expect(call[0]!.headers["runner-token"]).toBeUndefined();
    const [a, b] = s.config().runners!;
    expect(a!.token).not.toBe("glrt-old");
    expect(String(a!.token)).toStartWith("glrt-");
    expect((a!.token_obtained_at as Date).toISOString()).toBe("2026-11-30T00:00:00.000Z");
    expect(b!.token).toBe("glrt-b");
    expect(readFileSync(s.path, "utf8")).toContain("concurrent = 1 # keep");
    // GitLab now knows only the new token: the old one is refused.
    expect(s.c.currentToken("glrt-old")).not.toBe("glrt-old");
    const old = await fetch(`${s.c.url}/api/v4/runners/verify`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: "glrt-old", system_id: "s_000000000000" }),
    });
    expect(old.status).toBe(403);
    expect(await s.run("verify")).toBe(0);
  });

  test("a token GitLab refuses: exit 1, the file keeps the old token", async () => {
    const s = await setup((u) => entry("a", u, "glrt-unknown"));
    expect(await s.run("reset-token", "--name", "a")).toBe(1);
    expect(s.c.calls("POST runners/reset_authentication_token")[0]!.status).toBe(403);
    expect(s.config().runners![0]!.token).toBe("glrt-unknown");
  });

  test("--url with --id picks by GitLab's id; --all-runners resets each", async () => {
    const s = await setup(
      (u) => `${entry("a", u, "glrt-a", "  id = 41\n")}${entry("b", u, "glrt-b", "  id = 42\n")}`,
    );
    s.c.registerRunner("glrt-a");
    s.c.registerRunner("glrt-b");
    expect(await s.run("reset-token", "--url", s.c.url, "--id", "42")).toBe(0);
    expect(s.config().runners!.map((r) => r.token === (r.name === "a" ? "glrt-a" : "glrt-b"))).toEqual([
      true,
      false,
    ]);
    expect(await s.run("reset-token", "--all-runners")).toBe(0);
    expect(s.c.calls("POST runners/reset_authentication_token")).toHaveLength(3);
    expect(s.config().runners!.some((r) => r.token === "glrt-a")).toBe(false);
  });
});

test("list prints each entry with its executor, short token and URL (never the whole token)", async () => {
  const s = await setup((u) => `${entry("a", u, "glrt-abcdefghijklmnop")}`);
  expect(await s.run("list")).toBe(0);
  expect(s.out[0]).toContain(`ConfigFile=${s.path}`);
  expect(s.out[1]).toMatch(/^a\s+Executor=shell Token=abcdefghi URL=http:\/\/127\.0\.0\.1:\d+$/);
  expect(s.out.join("\n")).not.toContain("glrt-abcdefghijklmnop");
});
