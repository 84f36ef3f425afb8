// `fleeting install` against a local OCI registry (Debian's docker-registry), with and without
// basic auth: the newest version matching the constraint lands where discovery finds it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOCKER_REGISTRY, type LocalRegistry, startRegistry } from "../../tests/infra/docker-registry.ts";
import { goPlatform, installPlugin, loginFor, publishPlugin, saveLogin } from "./oci-plugin-store.ts";
import { resolvePlugin } from "./plugin-discovery.ts";

const script = (v: string) => new TextEncoder().encode(`#!/bin/sh\necho plugin ${v}\n`);

describe.skipIf(!existsSync(DOCKER_REGISTRY))(
  "fleeting plugins from an OCI registry (skipped without docker-registry)",
  () => {
    let open: LocalRegistry;
    let closed: LocalRegistry;
    let dir: string;
    const creds = { username: "ci", password: "s3cret" };
    beforeAll(async () => {
      [open, closed] = await Promise.all([startRegistry(), startRegistry({ auth: creds })]);
      dir = await mkdtemp(join(tmpdir(), "runmesh-oci-plugins-"));
      for (const v of ["1.2.0", "1.3.0", "2.0.0"])
        await publishPlugin(open.address, "fleeting/echo", v, {
          [goPlatform()]: script(v),
          "windows/amd64": script("win"),
        });
      await publishPlugin(
        closed.address,
        "fleeting/echo",
        "0.1.0",
        { [goPlatform()]: script("0.1.0") },
        creds,
      );
    });
    afterAll(async () => {
      await Promise.all([open?.stop(), closed?.stop()]);
      await rm(dir, { recursive: true, force: true });
    });

    test("installs the newest version matching the constraint where discovery finds it", async () => {
      const root = join(dir, "plugins");
      const got = await installPlugin(`${open.address}/fleeting/echo:1`, { root });
      expect(got).toMatchObject({ version: "1.3.0", fetched: true });
      expect(got.path).toBe(join(root, open.address, "fleeting/echo/1.3.0/plugin"));
      expect(spawnSync(got.path, { encoding: "utf8" }).stdout).toBe("plugin 1.3.0\n");
      expect(
        resolvePlugin(`${open.address}/fleeting/echo:1`, { FLEETING_PLUGIN_PATH: root, PATH: "" }),
      ).toMatchObject({
        how: "installed",
        version: "1.3.0",
      });
      expect((await installPlugin(`${open.address}/fleeting/echo:1`, { root })).fetched).toBe(false);
      expect((await installPlugin(`${open.address}/fleeting/echo`, { root })).version).toBe("2.0.0");
    });

    test("a constraint nothing matches says what the registry has", async () => {
      await expect(
        installPlugin(`${open.address}/fleeting/echo:3`, { root: join(dir, "none") }),
      ).rejects.toThrow(
        `no version in ${open.address}/fleeting/echo matches "3" (tags: 1.2.0, 1.3.0, 2.0.0)`,
      );
    });

    test("a private registry needs fleeting login; the saved credentials then work", async () => {
      const auth = join(dir, "auth.json");
      const root = join(dir, "private");
      await expect(
        installPlugin(`${closed.address}/fleeting/echo:0.1`, { root, authFile: auth }),
      ).rejects.toThrow("runmesh fleeting login");
      await saveLogin(closed.address, creds, auth);
      expect(await loginFor(closed.address, auth)).toEqual(creds);
      const got = await installPlugin(`${closed.address}/fleeting/echo:0.1`, { root, authFile: auth });
      expect(spawnSync(got.path, { encoding: "utf8" }).stdout).toBe("plugin 0.1.0\n");
    });
  },
);
