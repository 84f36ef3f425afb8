// Throughput of the ssh and docker executors' workspace transfer (libs/executors/workspace-
// transfer.ts): a tree of incompressible files imported into the remote project dir (tar over an
// ssh channel; PUT /containers/{id}/archive) and exported back to a worker staging dir (listing,
// selection, then tar over a channel; GET /containers/{id}/archive), beside plain `tar | tar` on
// this host, with the worker's peak RSS while it runs: the trees stream, they are never held.
// The sshd and dockerd are the tests' private ones (tests/infra), on loopback.
//
//   nice -n 10 node_modules/.bin/bun bench/remote-transfer.ts [MB, default 64] [ssh|docker|both]
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerProjectDir } from "../libs/executors/docker/docker-workspace.ts";
import { connectEngine } from "../libs/executors/docker/engine.ts";
import { SshProjectDir } from "../libs/executors/ssh/ssh-workspace.ts";
import { remoteWorkspace, type WorkspaceTransfer } from "../libs/executors/workspace-transfer.ts";
import { SshConnector } from "../libs/ssh/connector.ts";
import { DEBIAN_IMAGE, importDebian } from "../tests/infra/docker-images.ts";
import { engineAvailable, startDockerd } from "../tests/infra/dockerd.ts";
import { sshdMissing, startSshd } from "../tests/infra/sshd.ts";

const MB = Number(process.argv[2] ?? "64");
const which = process.argv[3] ?? "both";
const dir = mkdtempSync(join(tmpdir(), "runmesh-remote-transfer-bench-"));
const src = join(dir, "src");
const files = 16;
mkdirSync(join(src, "out"), { recursive: true });
for (let i = 0; i < files; i++)
  writeFileSync(
    join(src, "out", `f${i}.bin`),
    crypto.getRandomValues(new Uint8Array((MB * 1024 * 1024) / files)),
  );
const signal = new AbortController().signal;
const rows: [string, number, number][] = [];

/** Seconds and the peak RSS growth (MB) over the call. */
async function measured(f: () => Promise<unknown> | unknown): Promise<[number, number]> {
  Bun.gc(true);
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const t = performance.now();
  await f();
  const s = (performance.now() - t) / 1000;
  clearInterval(sampler);
  return [s, (Math.max(peak, process.memoryUsage().rss) - base) / 2 ** 20];
}

async function rounds(name: string, ws: WorkspaceTransfer): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const staging = join(dir, `${name}-staging-${round}`);
    mkdirSync(staging, { recursive: true });
    rows.push([
      `${name}: import (tar into the project dir)`,
      ...(await measured(() => ws.importTree(src, signal))),
    ]);
    rows.push([
      `${name}: export (list, select, tar back)`,
      ...(await measured(() =>
        ws.exportPaths({ paths: ["out"], exclude: [], untracked: false }, staging, signal),
      )),
    ]);
    rmSync(staging, { recursive: true, force: true });
  }
}

for (let round = 0; round < 3; round++) {
  const plain = join(dir, `plain-${round}`);
  mkdirSync(plain);
  rows.push([
    "plain tar | tar on this host",
    ...(await measured(() => execFileSync("sh", ["-c", `tar -cf - -C ${src} out | tar -xf - -C ${plain}`]))),
  ]);
  rmSync(plain, { recursive: true, force: true });
}

if (which !== "docker" && !sshdMissing()) {
  const sshd = await startSshd({ user: "runmesh-ssh-xfer" });
  const connector = new SshConnector();
  const c = await connector.connect({
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    password: sshd.password,
    strictHostKeyChecking: false,
  });
  const project = `/home/${sshd.user}/bench-project`;
  await rounds("ssh", remoteWorkspace(new SshProjectDir(c, project, "bench")));
  await c.output(`rm -rf ${project}`);
  await connector.close();
  await sshd.stop();
}

if (which !== "ssh" && engineAvailable) {
  const d = await startDockerd();
  await importDebian(d);
  const engine = await connectEngine({ host: d.host });
  const container = await engine.createContainer({
    Image: DEBIAN_IMAGE,
    Entrypoint: [],
    Cmd: ["sleep", "infinity"],
    HostConfig: { Binds: ["runmesh-bench-builds:/builds"], NetworkMode: "none" },
  });
  await container.start();
  const mk = await container.exec({ Cmd: ["mkdir", "-p", "/builds/project"] });
  await mk.start({});
  await Bun.sleep(200);
  await rounds(
    "docker",
    remoteWorkspace(new DockerProjectDir(engine, container.id, "/builds/project", "bench")),
  );
  await container.remove({ force: true });
  await engine.getVolume("runmesh-bench-builds").remove();
  await d.stop();
}
rmSync(dir, { recursive: true, force: true });

console.log(`workspace transfer of ssh and docker, ${MB} MB in ${files} files, loopback, medians of 3`);
for (const name of new Set(rows.map(([n]) => n))) {
  const r = rows.filter(([n]) => n === name);
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const s = median(r.map(([, t]) => t));
  const rss = Math.max(...r.map(([, , m]) => m));
  console.log(
    `  ${name.padEnd(44)} ${s.toFixed(2)} s  ${(MB / s).toFixed(0).padStart(4)} MB/s  peak RSS +${rss.toFixed(0)} MB`,
  );
}
