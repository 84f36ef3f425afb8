// An image whose containers can be fleeting instances: the host's OpenSSH sshd (Debian
// openssh-server, the same Debian as the images' base) and every library `ldd` names, copied
// onto a base image (busybox by default) with `docker build`, offline; /etc/passwd gains the
// privilege-separation user `sshd`. The docker fleeting plugin starts sshd in it on the host
// network, each instance on its own loopback port (services/fleeting-plugin-docker).
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BUSYBOX_IMAGE, importBusybox } from "./docker-images.ts";
import type { Dockerd } from "./dockerd.ts";

export const SSHD_IMAGE = "local/fleeting-sshd:latest";

const FILES = ["/usr/sbin/sshd", "/usr/lib/openssh/sftp-server"];

export async function buildSshdImage(d: Dockerd, tag = SSHD_IMAGE, base = BUSYBOX_IMAGE): Promise<string> {
  if (base === BUSYBOX_IMAGE) await importBusybox(d);
  const dir = mkdtempSync(join(tmpdir(), "runmesh-sshd-image-"));
  try {
    const rootfs = join(dir, "rootfs");
    const libs = new Set<string>();
    for (const f of FILES) {
      const out = spawnSync("ldd", [f], { encoding: "utf8" }).stdout;
      for (const m of out.matchAll(/(\/[^\s]+) \(0x/g)) libs.add(m[1]!);
    }
    for (const f of [...FILES, ...libs]) {
      mkdirSync(join(rootfs, dirname(f)), { recursive: true });
      cpSync(f, join(rootfs, f), { dereference: true });
    }
    mkdirSync(join(rootfs, "run/sshd"), { recursive: true });
    mkdirSync(join(rootfs, "etc"), { recursive: true });
    const passwd = d.cli(["run", "--rm", "--network", "none", base, "cat", "/etc/passwd"]);
    writeFileSync(
      join(rootfs, "etc/passwd"),
      `${passwd.trimEnd()}\nsshd:x:100:65534::/run/sshd:/bin/false\n`,
    );
    writeFileSync(join(dir, "Dockerfile"), `FROM ${base}\nCOPY rootfs/ /\n`);
    d.cli(["build", "-q", "-t", tag, dir]);
    return tag;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether the host has what the image copies (scripts/setup.sh installs openssh-server). */
export function sshdImageMissing(): string | undefined {
  try {
    readFileSync(FILES[0]!);
    return undefined;
  } catch {
    return `${FILES[0]} missing: run scripts/setup.sh`;
  }
}
