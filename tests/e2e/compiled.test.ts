// The compiled binary (`bun build --compile`) runs a job end to end. It is run from another
// directory with the project's node_modules hidden (a private mount namespace with an empty
// tmpfs over it), because a binary can quietly load files from the build tree and look fine.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { freePort } from "../infra/nats-server.ts";
import { configToml } from "./mesh-harness.ts";
import { BUN, type MeshProcess, spawnRunmesh } from "./processes.ts";

const ROOT = join(import.meta.dir, "..", "..");
const TOKEN = "glrt-compiled-runner-0123456789";
let coordinator: Coordinator;
let proc: MeshProcess | undefined;
let binary: string;

beforeAll(async () => {
  await $`${BUN} ${join(ROOT, "scripts", "build.ts")} runmesh`.cwd(ROOT).quiet();
  const dir = mkdtempSync(join(tmpdir(), "runmesh-bin-"));
  binary = join(dir, "runmesh");
  copyFileSync(join(ROOT, "dist", "runmesh"), binary);
  await $`chmod +x ${binary}`;
}, 180_000);

afterAll(async () => {
  proc?.kill("SIGKILL");
  await proc?.exited;
  await coordinator?.stop();
});

/** Runs the binary where node_modules and the sources cannot be seen, when the kernel lets us. */
async function hiddenTreeLauncher(): Promise<string[]> {
  const probe =
    await $`unshare -m sh -c ${`mount -t tmpfs none ${join(ROOT, "node_modules")} && test ! -e ${join(ROOT, "node_modules", "zod")}`}`
      .nothrow()
      .quiet();
  if (probe.exitCode !== 0) return [];
  const hide = ["node_modules", "libs", "services"]
    .map((d) => `mount -t tmpfs none ${join(ROOT, d)}`)
    .join(" && ");
  return ["unshare", "-m", "sh", "-c", `${hide} && exec "$0" "$@"`];
}

// Hiding the tree needs a mount namespace (root, or unprivileged user namespaces).
const canHideTree = (await hiddenTreeLauncher()).length > 0;

test.skipIf(!canHideTree)(
  "the compiled runmesh binary runs a job end to end without the source tree (needs unshare -m: skipped where mount namespaces are refused)",
  async () => {
    expect(existsSync(binary)).toBe(true);
    coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
    coordinator.registerRunner(TOKEN);
    const dir = mkdtempSync(join(tmpdir(), "runmesh-bin-cfg-"));
    const path = join(dir, "config.toml");
    writeFileSync(
      path,
      configToml({ url: coordinator.url, concurrent: 1, runners: [{ name: "bin", token: TOKEN }] }),
    );
    const launcher = await hiddenTreeLauncher();
    // /metrics loads prom-client and Hono through import(): chunks of their own in the binary
    // (--splitting, scripts/build-flags.ts), which must load with the tree hidden.
    const metricsPort = await freePort();
    const cmd = [
      ...launcher,
      binary,
      "run",
      "--config",
      path,
      "--listen-address",
      `127.0.0.1:${metricsPort}`,
    ];
    proc = spawnRunmesh(cmd.slice(1), { binary: cmd[0], cwd: dir });
    await proc.waitFor("runmesh ready", 30_000);
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("gitlab_runner_version_info");
    const j = coordinator.enqueueJob(TOKEN, { script: ["echo compiled and running"], gitStrategy: "none" });
    const done = await coordinator.waitForFinal(j.id, 30_000);
    expect(done.status).toBe("success");
    expect(done.traceText).toContain("compiled and running");
    expect(done.final?.checksumMatches).toBe(true);
    // The build stamps the git revision GitLab is told in info.revision: bare, not quoted.
    const asked = coordinator.requests.find((r) => r.path.endsWith("/jobs/request"));
    const revision = (asked?.body as { info?: { revision?: string } } | undefined)?.info?.revision;
    expect(revision).toMatch(/^([0-9a-f]{7,40}|unknown)$/);
    proc.kill("SIGQUIT");
    expect(await proc.exited).toBe(0);
  },
  120_000,
);
