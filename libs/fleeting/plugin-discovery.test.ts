import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  newestMatching,
  parseConstraint,
  parsePluginReference,
  pluginInstallRoot,
  resolvePlugin,
} from "./plugin-discovery.ts";

describe("plugin references", () => {
  test.each([
    ["aws", "registry.gitlab.com", "gitlab-org/fleeting/plugins", "aws", "latest"],
    ["aws:1", "registry.gitlab.com", "gitlab-org/fleeting/plugins", "aws", "1"],
    ["me/tools/aws:1.5", "registry.gitlab.com", "me/tools", "aws", "1.5"],
    ["registry.example.com/me/aws:1.5.1", "registry.example.com", "me", "aws", "1.5.1"],
    ["localhost:5000/fleeting/docker:latest", "localhost:5000", "fleeting", "docker", "latest"],
    [
      "registry.gitlab.com/santhanuv/fleeting-plugin-vmware-vsphere:latest",
      "registry.gitlab.com",
      "santhanuv",
      "fleeting-plugin-vmware-vsphere",
      "latest",
    ],
  ])("%s", (ref, registry, repository, name, constraint) => {
    const r = parsePluginReference(ref);
    expect({ registry: r.registry, repository: r.repository, name: r.name }).toEqual({
      registry,
      repository,
      name,
    });
    expect(r.constraint.kind === "latest" ? "latest" : r.constraint.text).toBe(constraint);
  });

  test.each([
    ["aws:newest", 'expected "latest", "MAJOR", "MAJOR.MINOR" or "MAJOR.MINOR.PATCH", got "newest"'],
    ["aws:1.2.3.4", 'got "1.2.3.4"'],
    ["Aws", '"Aws" is not a valid plugin name'],
    ["", "expected a reference"],
  ])("refuses %p", (ref, message) => {
    expect(() => parsePluginReference(ref)).toThrow(message);
  });

  const installed = ["0.9.0", "1.4.2", "1.5.0", "1.5.1", "v1.6.0", "2.0.0-rc1", "notes"];
  test.each([
    ["latest", "v1.6.0"],
    ["1", "v1.6.0"],
    ["1.5", "1.5.1"],
    ["1.5.0", "1.5.0"],
    ["0", "0.9.0"],
    ["2", undefined],
    ["1.7", undefined],
  ])("constraint %s picks %p among installed versions", (c, want) => {
    expect(newestMatching(parseConstraint(c), installed)).toBe(want);
  });
});

describe("resolving a plugin", () => {
  const dir = mkdtempSync(join(tmpdir(), "runmesh-discovery-"));
  const exe = (path: string) => {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, "#!/bin/sh\n");
    chmodSync(path, 0o755);
  };
  const root = join(dir, "plugins");
  const bin = join(dir, "bin");
  exe(join(root, "registry.gitlab.com/gitlab-org/fleeting/plugins/aws/1.2.0/plugin"));
  exe(join(root, "registry.gitlab.com/gitlab-org/fleeting/plugins/aws/1.3.0/plugin"));
  exe(join(root, "localhost:5000/fleeting/docker/0.1.0/plugin"));
  exe(join(bin, "fleeting-plugin-static"));
  const env = { FLEETING_PLUGIN_PATH: root, PATH: `/nonexistent:${bin}` };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("FLEETING_PLUGIN_PATH overrides ~/.config/fleeting/plugins", () => {
    expect(pluginInstallRoot({ HOME: "/home/u" })).toBe("/home/u/.config/fleeting/plugins");
    expect(pluginInstallRoot({ HOME: "/home/u", FLEETING_PLUGIN_PATH: "/p" })).toBe("/p");
  });

  test.each([
    ["aws", "registry.gitlab.com/gitlab-org/fleeting/plugins/aws/1.3.0/plugin", "installed"],
    ["aws:1.2", "registry.gitlab.com/gitlab-org/fleeting/plugins/aws/1.2.0/plugin", "installed"],
    ["localhost:5000/fleeting/docker:0", "localhost:5000/fleeting/docker/0.1.0/plugin", "installed"],
    ["static", "bin/fleeting-plugin-static", "PATH"],
    ["fleeting-plugin-static", "bin/fleeting-plugin-static", "PATH"],
  ])("%s resolves to %s (%s)", (ref, path, how) => {
    const r = resolvePlugin(ref, env);
    expect(r.path.slice(dir.length + 1).replace(/^plugins\//, "")).toBe(path);
    expect(r.how).toBe(how as never);
  });

  test("a missing plugin's error says everywhere it looked", () => {
    expect(() => resolvePlugin("aws:2", env)).toThrow(
      `plugin "aws:2": not found; looked for ${root}/registry.gitlab.com/gitlab-org/fleeting/plugins/aws/<version matching 2>/plugin; fleeting-plugin-aws on PATH`,
    );
  });

  test("an explicit path must be an executable file", () => {
    expect(resolvePlugin(join(bin, "fleeting-plugin-static"), env).how).toBe("path");
    expect(() => resolvePlugin(join(bin, "missing"), env)).toThrow("not an executable file");
  });
});
