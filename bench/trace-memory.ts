// Streams 1 GiB of generated job output through the job log pipeline (per-stream masker →
// timestamps → TraceBuffer) and prints throughput and RSS, to show that memory does not grow
// with the output. Three runs: the buffer alone (baseline), the full pipeline with GitLab's
// default 4 MiB output limit, and the full pipeline with a 2 GiB limit so every byte is kept.
//
//   node_modules/.bin/bun bench/trace-memory.ts [GiB]
import { createJobLog } from "../libs/trace/job-log.ts";
import { createMasker } from "../libs/trace/masking.ts";
import { DEFAULT_OUTPUT_LIMIT_BYTES, TraceBuffer } from "../libs/trace/trace-buffer.ts";

const MIB = 1024 * 1024;
const TOTAL = Math.round(Number(process.argv[2] ?? "1") * 1024 * MIB);
// Odd-sized writes, so secrets, lines and characters are cut by write boundaries.
const WRITE_BYTES = 64 * 1024 - 7;
const SAMPLE_EVERY_BYTES = 16 * MIB;

const phrases = ["hunter2-very-secret", "s3cr3t", "correct horse battery staple"];

/** ~1 MiB of varied log lines; every 50th carries secrets of all three kinds. */
function makeBlock(): Uint8Array {
  const words = [
    "compiling",
    "module",
    "ok",
    "test",
    "passed",
    "warning:",
    "src/lib.rs",
    "é",
    "—",
    "🐤",
    "123",
  ];
  let s = "";
  for (let i = 0; s.length < MIB; i++) {
    let line = `[${i}] `;
    for (let w = 0; w < 6 + (i % 9); w++) line += `${words[(i * 7 + w * 3) % words.length]} `;
    if (i % 50 === 0) {
      line += `password=${phrases[i % 3]} token glpat-abcDEF123_x GET /api?private_token=zzz&page=${i}`;
    }
    if (i % 97 === 0) line += "progress 42%\r";
    s += `${line}\n`;
  }
  return new TextEncoder().encode(s);
}

interface Figures {
  name: string;
  seconds: number;
  mibPerSecond: number;
  keptMiB: number;
  rssStartMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
}

const mib = (n: number) => Math.round((n / MIB) * 10) / 10;

async function run(name: string, limitBytes: number, pipeline: boolean, block: Uint8Array): Promise<Figures> {
  Bun.gc(true);
  const rssStart = process.memoryUsage().rss;
  let rssPeak = rssStart;
  const buffer = await TraceBuffer.create({ limitBytes });
  const log = pipeline
    ? createJobLog({ buffer, masker: () => createMasker({ phrases }), timestamps: true })
    : undefined;
  const started = performance.now();
  let written = 0;
  let offset = 0;
  let nextSample = SAMPLE_EVERY_BYTES;
  while (written < TOTAL) {
    const n = Math.min(WRITE_BYTES, TOTAL - written, block.length - offset);
    const chunk = block.subarray(offset, offset + n);
    if (log) log.output("stdout", chunk);
    else buffer.write(chunk);
    written += n;
    offset = (offset + n) % block.length;
    if (written >= nextSample) {
      nextSample += SAMPLE_EVERY_BYTES;
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
  }
  if (log) log.finish();
  else buffer.finish();
  const seconds = (performance.now() - started) / 1000;
  const rssEnd = process.memoryUsage().rss;
  rssPeak = Math.max(rssPeak, rssEnd);
  const kept = buffer.size;
  await buffer.remove();
  return {
    name,
    seconds: Math.round(seconds * 100) / 100,
    mibPerSecond: Math.round(written / MIB / seconds),
    keptMiB: mib(kept),
    rssStartMiB: mib(rssStart),
    rssPeakMiB: mib(rssPeak),
    rssEndMiB: mib(rssEnd),
  };
}

const block = makeBlock();
console.log(`streaming ${mib(TOTAL)} MiB of generated output in writes of ${WRITE_BYTES} bytes`);
const results: Figures[] = [];
results.push(await run("buffer only, 2 GiB limit (baseline)", 2048 * MIB, false, block));
results.push(await run("mask+timestamps+buffer, 4 MiB limit", DEFAULT_OUTPUT_LIMIT_BYTES, true, block));
results.push(await run("mask+timestamps+buffer, 2 GiB limit", 2048 * MIB, true, block));
console.table(results);
