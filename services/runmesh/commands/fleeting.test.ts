// `runmesh fleeting install` then `fleeting list` on a config.toml whose entry names a plugin in a
// local OCI registry (Debian's docker-registry).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { goPlatform, publishPlugin } from "../../../libs/fleeting/oci-plugin-store.ts";
import { DOCKER_REGISTRY, type LocalRegistry, startRegistry } from "../../../tests/infra/docker-registry.ts";
import { fleetingLogin } from "./fleeting.ts";
import { runManagementVerb } from "./run-verb.ts";

describe.skipIf(!existsSync(DOCKER_REGISTRY))(
  "runmesh fleeting install | list (skipped without docker-registry)",
  () => {
    let reg: LocalRegistry;
    let dir: string;
    const saved = process.env.FLEETING_PLUGIN_PATH;
    beforeAll(async () => {
      reg = await startRegistry();
      dir = await mkdtemp(join(tmpdir(), "runmesh-fleeting-cli-"));
      process.env.FLEETING_PLUGIN_PATH = join(dir, "plugins");
      for (const v of ["0.9.0", "1.0.0"])
        await publishPlugin(reg.address, "fleeting/lab", v, {
          [goPlatform()]: new TextEncoder().encode("#!/bin/sh\n"),
        });
    });
    afterAll(async () => {
      process.env.FLEETING_PLUGIN_PATH = saved;
      await reg?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test("installs each autoscaled entry's plugin, then lists it with the version it resolves to", async () => {
      const configPath = join(dir, "config.toml");
      await writeFile(
        configPath,
        [
          "concurrent = 1",
          "[[runners]]",
          '  name = "fleet"',
          '  url = "https://gitlab.example.com"',
          '  token = "glrt-abcdefghijklmnopqrst"',
          '  executor = "instance"',
          "  [runners.autoscaler]",
          `    plugin = "${reg.address}/fleeting/lab:0"`,
          "",
        ].join("\n"),
      );
      const out: string[] = [];
      const logs: Record<string, unknown>[] = [];
      const ctx = {
        out: (l: string) => out.push(l),
        logger: pino({ level: "info" }, { write: (l: string) => logs.push(JSON.parse(l)) }),
        now: () => new Date(),
        client: () => {
          throw new Error("no GitLab here");
        },
        systemId: async () => "s",
      };
      expect(
        await runManagementVerb("fleeting install", { config: configPath }, { debug: false }, { ctx }),
      ).toBe(0);
      expect(logs.find((l) => l.msg === "plugin installed")).toMatchObject({
        runner: "fleet",
        version: "0.9.0",
      });
      expect(
        await runManagementVerb("fleeting list", { config: configPath }, { debug: false }, { ctx }),
      ).toBe(0);
      expect(out).toEqual([
        `runner=fleet plugin=${reg.address}/fleeting/lab:0 path=${join(dir, "plugins", reg.address, "fleeting/lab/0.9.0/plugin")} version=0.9.0 from=installed`,
      ]);
    });
  },
);

describe.skipIf(!existsSync(DOCKER_REGISTRY))(
  "runmesh fleeting login against a registry with htpasswd (skipped without docker-registry)",
  () => {
    const creds = { username: "deploy", password: "s3cret-plugin-pull" };
    let reg: LocalRegistry;
    let dir: string;
    const saved = { path: process.env.FLEETING_PLUGIN_PATH, auth: process.env.FLEETING_AUTH_FILE };
    beforeAll(async () => {
      reg = await startRegistry({ auth: creds });
      dir = await mkdtemp(join(tmpdir(), "runmesh-fleeting-login-"));
      process.env.FLEETING_PLUGIN_PATH = join(dir, "plugins");
      process.env.FLEETING_AUTH_FILE = join(dir, "auth.json");
    });
    afterAll(async () => {
      process.env.FLEETING_PLUGIN_PATH = saved.path;
      process.env.FLEETING_AUTH_FILE = saved.auth;
      await reg?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test("a refused password saves nothing; an accepted one is saved 0600 and lets install pull a private plugin", async () => {
      const logs: string[] = [];
      const ctx = {
        out: () => {},
        logger: pino({ level: "info" }, { write: (l: string) => logs.push(l) }),
        now: () => new Date(),
        client: () => {
          throw new Error("no GitLab here");
        },
        systemId: async () => "s",
      };
      const login = (password: string) =>
        fleetingLogin({ registry: reg.address, username: creds.username }, ctx, async () => `${password}\n`);
      expect(await login("wrong")).toBe(1);
      expect(existsSync(join(dir, "auth.json"))).toBe(false);
      expect(await fleetingLogin({ registry: reg.address }, ctx, async () => "x")).toBe(2);

      expect(await login(creds.password)).toBe(0);
      expect(statSync(join(dir, "auth.json")).mode & 0o777).toBe(0o600);
      expect(logs.join("\n")).not.toContain(creds.password);

      await publishPlugin(
        reg.address,
        "fleeting/private",
        "1.0.0",
        {
          [goPlatform()]: new TextEncoder().encode("#!/bin/sh\n"),
        },
        creds,
      );
      const configPath = join(dir, "config.toml");
      await writeFile(
        configPath,
        [
          "concurrent = 1",
          "[[runners]]",
          '  name = "fleet"',
          '  url = "https://gitlab.example.com"',
          '  token = "glrt-abcdefghijklmnopqrst"',
          '  executor = "instance"',
          "  [runners.autoscaler]",
          `    plugin = "${reg.address}/fleeting/private:1"`,
          "",
        ].join("\n"),
      );
      expect(
        await runManagementVerb("fleeting install", { config: configPath }, { debug: false }, { ctx }),
      ).toBe(0);
    });
  },
);
