// Idle RSS of a `runmesh worker` process with and without a listen address: prom-client and
// Hono are loaded only when one is set, so a worker without metrics pays nothing for them (the
// worker's idle RSS is capped at 60 MB). Also the cost of one /metrics scrape. Each variant is a
// real process on a real nats-server; RSS is VmRSS read 2 s after "runmesh ready", median of 3.
//
//   node_modules/.bin/bun bench/metrics-memory.ts
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnRunmesh } from "../tests/e2e/processes.ts";
import { startNatsServer } from "../tests/infra/nats-server.ts";

const RUNS = 3;
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const nats = await startNatsServer();
try {
  for (const listen of [undefined, "127.0.0.1:0"]) {
    const idle: number[] = [];
    const scraped: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const dir = mkdtempSync(join(tmpdir(), "runmesh-bench-metrics-"));
      const config = join(dir, "config.toml");
      writeFileSync(config, `${listen ? `listen_address = "${listen}"\n` : ""}[mesh]\ndata_dir = "${dir}"\n`);
      const p = spawnRunmesh(["worker", "--config", config, "--nats", nats.url, "--id", `bench-${i}`], {
        env: { RUNMESH_LOG_LEVEL: "info" },
      });
      await p.waitFor("runmesh ready");
      await Bun.sleep(2000);
      idle.push(rssMb(p.proc.pid));
      if (listen) {
        const { url } = JSON.parse(await p.waitFor("metrics server listening")) as { url: string };
        for (let n = 0; n < 20; n++) await (await fetch(`${url}/metrics`)).text();
        scraped.push(rssMb(p.proc.pid));
      }
      p.kill("SIGKILL");
      await p.exited;
    }
    console.log(
      `worker ${listen ? "with listen_address" : "without listen_address"}: idle RSS ${median(idle).toFixed(1)} MB` +
        (listen ? `, after 20 scrapes ${median(scraped).toFixed(1)} MB` : "") +
        ` (runs: ${idle.map((x) => x.toFixed(1)).join(", ")})`,
    );
  }
} finally {
  await nats.stop();
}
