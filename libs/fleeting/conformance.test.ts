// The conformance kit against both built-in plugins, each a separate process through go-plugin's
// handshake, and against any plugin binary given in FLEETING_CONFORMANCE_PLUGIN (with its
// plugin_config as JSON in FLEETING_CONFORMANCE_CONFIG and the connector's in
// FLEETING_CONFORMANCE_CONNECTOR). FLEETING_BUILTIN_DIR=dist runs the compiled built-ins instead.
// Instances are real: containers running sshd on a private dockerd, and sshd processes for the
// static list; each must accept an SSH login.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pino from "pino";
import { type Dockerd, engineAvailable, startDockerd } from "../../tests/infra/dockerd.ts";
import { type Sshd, sshdMissing, startSshd } from "../../tests/infra/sshd.ts";
import { buildSshdImage, SSHD_IMAGE } from "../../tests/infra/sshd-image.ts";
import { type CheckResult, runConformance } from "./conformance.ts";

const ROOT = resolve(import.meta.dir, "../..");
const logger = pino({ level: process.env.CONFORMANCE_LOG ?? "silent" });
/** A built-in plugin from source, or the compiled binary when FLEETING_BUILTIN_DIR names dist/. */
const builtIn = (name: string) =>
  process.env.FLEETING_BUILTIN_DIR
    ? [resolve(process.env.FLEETING_BUILTIN_DIR, `fleeting-plugin-${name}`)]
    : [process.execPath, join(ROOT, `services/fleeting-plugin-${name}/main.ts`)];

function expectAllPass(results: CheckResult[]) {
  const failed = results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`);
  expect(failed).toEqual([]);
  expect(results.length).toBeGreaterThanOrEqual(14);
}

describe("fleeting conformance: static", () => {
  const sshds: Sshd[] = [];
  const dir = mkdtempSync(join(tmpdir(), "runmesh-conformance-static-"));
  beforeAll(async () => {
    if (!sshdMissing()) for (let i = 0; i < 3; i++) sshds.push(await startSshd());
  });
  afterAll(async () => {
    await Promise.all(sshds.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  test.skipIf(sshdMissing() !== undefined)(
    `passes every check (skipped when sshd cannot run here: ${sshdMissing() ?? "it can"})`,
    async () => {
      const results = await runConformance(
        {
          command: builtIn("static"),
          name: "fleeting-plugin-static",
          pluginConfig: {
            hosts: sshds.map((s) => ({ addr: `${s.host}:${s.port}`, key_path: s.identityFile })),
            username: sshds[0]!.user,
            state_file: join(dir, "state.json"),
          },
        },
        logger,
      );
      expectAllPass(results);
    },
  );
});

describe("fleeting conformance: docker", () => {
  let d: Dockerd | undefined;
  beforeAll(async () => {
    if (!engineAvailable) return;
    d = await startDockerd();
    await buildSshdImage(d);
  });
  afterAll(async () => {
    await d?.stop();
  });

  test.skipIf(!engineAvailable)("passes every check (skipped without root and dockerd)", async () => {
    const results = await runConformance(
      {
        command: builtIn("docker"),
        name: "fleeting-plugin-docker",
        pluginConfig: {
          docker_host: d!.host,
          image: SSHD_IMAGE,
          name: "conformance",
          max_size: 3,
          // Below the ephemeral range: see portRange in tests/e2e/toml-mesh.ts.
          port_range: "23200-23299",
        },
      },
      logger,
    );
    expectAllPass(results);
    expect(d!.cli(["ps", "-aq"]).trim()).toBe("");
  });
});

const external = process.env.FLEETING_CONFORMANCE_PLUGIN;
describe("fleeting conformance: FLEETING_CONFORMANCE_PLUGIN", () => {
  test.skipIf(!external)("passes every check (skipped: FLEETING_CONFORMANCE_PLUGIN not set)", async () => {
    const results = await runConformance(
      {
        command: [external!],
        pluginConfig: JSON.parse(process.env.FLEETING_CONFORMANCE_CONFIG ?? "{}"),
        connectorConfig: JSON.parse(process.env.FLEETING_CONFORMANCE_CONNECTOR ?? "{}"),
      },
      pino({ level: "info" }),
    );
    for (const r of results)
      console.log(`${r.ok ? "ok  " : "FAIL"} ${r.name}${r.detail ? `: ${r.detail}` : ""}`);
    expectAllPass(results);
  });
});
