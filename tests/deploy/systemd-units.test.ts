// deploy/systemd/: the all-in-one and one unit per tier. systemd is not PID 1 here, so each unit is
// checked with `systemd-analyze verify` (no error, no warning) and its [Service] settings are read
// back: SIGQUIT to the main process only so jobs drain (KillMode=mixed, as GitLab Runner's unit),
// a stop timeout long enough for jobs, restarts, and the worker kept away from config.toml.
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const UNITS = join(import.meta.dir, "..", "..", "deploy", "systemd");
const hasSystemdAnalyze = Bun.which("systemd-analyze") !== null;
const unitNames = readdirSync(UNITS).filter((n) => n.endsWith(".service"));

/** `[Service]` settings of a unit file; a key given twice keeps every value. */
function serviceSettings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (section !== "Service") continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq).trim();
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

/** systemd's time span in seconds ("7200", "2h", "90s", "infinity"). */
function seconds(span: string): number {
  if (span === "infinity") return Number.POSITIVE_INFINITY;
  const m = /^(\d+)\s*(h|min|m|s)?$/.exec(span);
  if (!m) throw new Error(`not a time span systemd takes here: ${span}`);
  return Number(m[1]) * ({ h: 3600, min: 60, m: 60, s: 1 } as Record<string, number>)[m[2] ?? "s"]!;
}

const unit = (name: string) => serviceSettings(readFileSync(join(UNITS, name), "utf8"));
const one = (s: Map<string, string[]>, key: string) => s.get(key)?.at(-1);

/** Warnings go to the journal unless told otherwise: console, so the test sees them. */
const verify = (path: string) =>
  Bun.spawnSync(["systemd-analyze", "verify", path], {
    env: { ...process.env, SYSTEMD_LOG_TARGET: "console" },
  });

/** A copy of the unit whose binary is a stub that exists here (verify checks ExecStart's file). */
function verifiable(name: string, dir: string, edit: (t: string) => string = (t) => t): string {
  const text = readFileSync(join(UNITS, name), "utf8").replace(
    /\/usr\/local\/bin\/(runmesh[a-z-]*)/g,
    (_, bin) => {
      const stub = join(dir, bin);
      writeFileSync(stub, "#!/bin/sh\n");
      chmodSync(stub, 0o755);
      return stub;
    },
  );
  const path = join(dir, name);
  writeFileSync(path, edit(text));
  return path;
}

describe("systemd units", () => {
  test("there is a unit for the all-in-one and for each tier", () => {
    expect(unitNames.sort()).toEqual([
      "runmesh-poller.service",
      "runmesh-scheduler.service",
      "runmesh-worker.service",
      "runmesh.service",
    ]);
  });

  test.skipIf(!hasSystemdAnalyze).each(unitNames)(
    "%s passes systemd-analyze verify with no error or warning (skipped without systemd-analyze)",
    (name) => {
      const dir = mkdtempSync(join(tmpdir(), "runmesh-units-"));
      const check = verify(verifiable(name, dir));
      expect({ code: check.exitCode, out: `${check.stdout}${check.stderr}` }).toEqual({ code: 0, out: "" });
      // The check can fail: a kill mode systemd does not know is reported.
      const broken = verifiable(name, dir, (t) => t.replace(/^KillMode=mixed$/m, "KillMode=drain"));
      expect(`${verify(broken).stderr}`).toContain("Failed to parse kill mode");
    },
  );

  test.each(unitNames)(
    "%s sends SIGQUIT to the main process only, restarts always, and waits for jobs",
    (name) => {
      const s = unit(name);
      expect(one(s, "KillMode")).toBe("mixed");
      expect(one(s, "KillSignal")).toBe("SIGQUIT");
      expect(one(s, "Restart")).toBe("always");
      expect(seconds(one(s, "RestartSec") ?? "0")).toBeGreaterThan(0);
      // Units that run jobs wait an hour at least for them to finish (GitLab's default job timeout).
      const runsJobs = name === "runmesh.service" || name === "runmesh-worker.service";
      expect(seconds(one(s, "TimeoutStopSec") ?? "90")).toBeGreaterThanOrEqual(runsJobs ? 3600 : 30);
    },
  );

  test("the worker runs as its own user and can never read config.toml", () => {
    const s = unit("runmesh-worker.service");
    expect(one(s, "User")).toBe("runmesh-worker");
    const exec = one(s, "ExecStart")!;
    expect(exec).not.toContain("config.toml");
    expect(exec).not.toContain("/etc/gitlab-runner");
    expect(exec).toContain("--config /etc/runmesh/worker.toml");
    expect((s.get("InaccessiblePaths") ?? []).join(" ")).toContain("/etc/gitlab-runner");
  });

  test("the poller and scheduler run as their own users, with their NATS identity from an environment file", () => {
    for (const tier of ["poller", "scheduler"]) {
      const s = unit(`runmesh-${tier}.service`);
      expect(one(s, "User")).toBe(`runmesh-${tier}`);
      expect(one(s, "EnvironmentFile")).toBe(`/etc/runmesh/${tier}.env`);
      expect(one(s, "ProtectSystem")).toBe("strict");
    }
    // Only the poller rotates runner tokens, so only it writes config.toml.
    expect(unit("runmesh-poller.service").get("ReadWritePaths")).toEqual(["/etc/gitlab-runner"]);
    expect(unit("runmesh-scheduler.service").get("ReadWritePaths")).toBeUndefined();
  });

  test.each([
    ["7200", 7200],
    ["2h", 7200],
    ["90s", 90],
    ["5min", 300],
    ["infinity", Number.POSITIVE_INFINITY],
  ] as const)("time span %s is %d s", (span, want) => {
    expect(seconds(span)).toBe(want);
  });
});
