import { describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "./config-error.ts";
import { loadOrCreateSystemId, SYSTEM_ID_FILE } from "./system-id.ts";

const freshConfigPath = async () => join(await mkdtemp(join(tmpdir(), "runmesh-sysid-")), "config.toml");

describe("loadOrCreateSystemId", () => {
  test("creates s_ + 12 hex digits from the machine ID, as GitLab Runner does", async () => {
    const configPath = await freshConfigPath();
    const machineIdFile = join(configPath, "..", "machine-id");
    await writeFile(machineIdFile, "3d1219c7c4c5404aaa1f6d2a48adfda4\n");
    const id = await loadOrCreateSystemId(configPath, { machineIdFiles: [machineIdFile] });
    // HMAC-SHA256(key: machine ID, message: "gitlab-runner"), first 12 hex digits.
    const expected = new Bun.CryptoHasher("sha256", "3d1219c7c4c5404aaa1f6d2a48adfda4")
      .update("gitlab-runner")
      .digest("hex")
      .slice(0, 12);
    expect(id).toBe(`s_${expected}`);
    expect(await readFile(join(configPath, "..", SYSTEM_ID_FILE), "utf8")).toBe(id);
  });

  test("without a machine ID, creates r_ + 12 random letters and digits", async () => {
    const a = await loadOrCreateSystemId(await freshConfigPath(), { machineIdFiles: [] });
    const b = await loadOrCreateSystemId(await freshConfigPath(), { machineIdFiles: [] });
    expect(a).toMatch(/^r_[0-9a-zA-Z]{12}$/);
    expect(a).not.toBe(b);
  });

  test("reuses the file beside config.toml", async () => {
    const configPath = await freshConfigPath();
    await writeFile(join(configPath, "..", SYSTEM_ID_FILE), "s_0123456789ab\n");
    expect(await loadOrCreateSystemId(configPath)).toBe("s_0123456789ab");
    const created = await loadOrCreateSystemId(await freshConfigPath(), { machineIdFiles: [] });
    expect(created).toMatch(/^r_/);
  });

  test("concurrent callers sharing a config directory agree on one ID", async () => {
    for (let round = 0; round < 10; round++) {
      const configPath = await freshConfigPath();
      // Random IDs, so each caller would invent a different one if the race were lost.
      const ids = await Promise.all(
        Array.from({ length: 8 }, () => loadOrCreateSystemId(configPath, { machineIdFiles: [] })),
      );
      expect(new Set(ids).size).toBe(1);
      expect(await readFile(join(configPath, "..", SYSTEM_ID_FILE), "utf8")).toBe(ids[0]!);
      // No temporary files are left behind.
      expect(await readdir(join(configPath, ".."))).toEqual([SYSTEM_ID_FILE]);
    }
  });

  test("separate processes racing on one directory agree too", async () => {
    const configPath = await freshConfigPath();
    const script = `import { loadOrCreateSystemId } from ${JSON.stringify(join(import.meta.dir, "system-id.ts"))};
      process.stdout.write(await loadOrCreateSystemId(${JSON.stringify(configPath)}, { machineIdFiles: [] }));`;
    const children = Array.from({ length: 4 }, () =>
      Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" }),
    );
    const ids = await Promise.all(children.map((c) => new Response(c.stdout).text()));
    expect(ids[0]).toMatch(/^r_[0-9a-zA-Z]{12}$/);
    expect(new Set(ids).size).toBe(1);
  });

  test("a malformed file is a clear ConfigError, not a silent new ID", async () => {
    const configPath = await freshConfigPath();
    const file = join(configPath, "..", SYSTEM_ID_FILE);
    await writeFile(file, "not-an-id");
    const attempt = loadOrCreateSystemId(configPath);
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(loadOrCreateSystemId(configPath)).rejects.toThrow(
      `${file}: malformed runner system ID "not-an-id": expected "s_" or "r_" and 12 letters or digits`,
    );
    expect(await readFile(file, "utf8")).toBe("not-an-id");
  });
});
