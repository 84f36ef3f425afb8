// `runmesh run` started exactly as GitLab Runner's packaging starts gitlab-runner: the systemd
// unit `gitlab-runner install` writes, and the official image's CMD (config from $CONFIG_FILE,
// as the image's default path would be). Paths point at temp dirs; the rest is unchanged. With
// --working-directory, builds live under it (GitLab Runner's shell executor: <wd>/builds).
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../../tests/coordinator/coordinator.ts";
import { type MeshProcess, spawnRunmesh } from "../../tests/e2e/processes.ts";

const ROOT = join(import.meta.dir, "..", "..");
const BIN = join(ROOT, "bin", "runmesh");
const TOKEN = "glrt-stock-command-line-0123";

let coordinator: Coordinator | undefined;
let proc: MeshProcess | undefined;
afterEach(async () => {
  proc?.kill("SIGKILL");
  await proc?.exited;
  proc = undefined;
  await coordinator?.stop();
  coordinator = undefined;
});

async function prepare() {
  coordinator = await startCoordinator({ longPollMs: 1000 });
  coordinator.registerRunner(TOKEN);
  const root = realpathSync(mkdtempSync(join(tmpdir(), "runmesh-cmdline-")));
  const etc = join(root, "etc", "gitlab-runner");
  const home = join(root, "home", "gitlab-runner");
  for (const d of [etc, home]) Bun.spawnSync(["mkdir", "-p", d]);
  const config = join(etc, "config.toml");
  writeFileSync(
    config,
    [
      "concurrent = 1",
      "check_interval = 1",
      "[mesh]",
      'heartbeat_interval = "200ms"',
      "[[runners]]",
      'name = "stock"',
      `url = "${coordinator.url}"`,
      `token = "${TOKEN}"`,
      'executor = "shell"',
      "",
    ].join("\n"),
  );
  // cwd elsewhere: nothing may land in the directory runmesh was started from.
  const cwd = mkdtempSync(join(tmpdir(), "runmesh-cwd-"));
  return { root, config, home, cwd };
}

async function startedAndPolling(p: MeshProcess, home: string) {
  const starting = await p.waitFor("Starting multi-runner");
  expect(starting).toContain(home);
  await p.waitFor("runmesh ready");
  const c = coordinator!;
  await c.waitForRequest((r) => r.path.endsWith("/jobs/request"), 20_000);
  expect(c.managers(TOKEN).size).toBe(1);
}

test("the stock systemd unit's command line starts runmesh unchanged", async () => {
  const { config, home, cwd } = await prepare();
  proc = spawnRunmesh(
    [
      "run",
      "--working-directory",
      home,
      "--config",
      config,
      "--service",
      "gitlab-runner",
      "--user",
      "gitlab-runner",
    ],
    { binary: BIN, cwd },
  );
  await startedAndPolling(proc, home);
  expect(existsSync(join(cwd, "builds"))).toBe(false);
});

test("the official image's CMD starts runmesh unchanged, config from $CONFIG_FILE", async () => {
  const { config, home, cwd } = await prepare();
  // The image runs `run --user=gitlab-runner --working-directory=/home/gitlab-runner`.
  proc = spawnRunmesh(["run", "--user=gitlab-runner", `--working-directory=${home}`], {
    binary: BIN,
    cwd,
    env: { CONFIG_FILE: config },
  });
  await startedAndPolling(proc, home);
});

test("builds default under --working-directory, not under the temp dir", async () => {
  const { config, home, cwd } = await prepare();
  proc = spawnRunmesh(["run", "--working-directory", home, "--config", config], { binary: BIN, cwd });
  await proc.waitFor("runmesh ready");
  const job = coordinator!.enqueueJob(TOKEN, { script: ["pwd"], gitStrategy: "none" });
  const done = await coordinator!.waitForFinal(job.id, 60_000);
  expect(done.status).toBe("success");
  expect(done.traceText).toContain(`${home}/builds/`);
  expect(existsSync(join(home, "builds"))).toBe(true);
});

test("--listen-address (flag over config.toml) serves the metrics address", async () => {
  const { config, home, cwd } = await prepare();
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = probe.port;
  probe.stop(true);
  proc = spawnRunmesh(
    ["run", "--working-directory", home, "--config", config, "--listen-address", `127.0.0.1:${port}`],
    { binary: BIN, cwd },
  );
  await proc.waitFor("runmesh ready");
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain("gitlab_runner_version_info");
});
