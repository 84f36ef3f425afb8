import { afterEach, describe, expect, test } from "bun:test";
import { createJobLog, type JobLogOptions } from "./job-log.ts";
import { createMasker } from "./masking.ts";
import { TraceBuffer } from "./trace-buffer.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const crcOf = (b: Uint8Array) => `crc32:${Bun.hash.crc32(b).toString(16).padStart(8, "0")}`;
const T = "2024-01-01T00:00:00.000000Z";
const clock = () => Date.parse("2024-01-01T00:00:00Z");

const open: TraceBuffer[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.remove();
});

async function setup(opts: Partial<JobLogOptions> & { limitBytes?: number } = {}) {
  const buffer = await TraceBuffer.create(opts.limitBytes ? { limitBytes: opts.limitBytes } : {});
  open.push(buffer);
  const log = createJobLog({
    buffer,
    masker: () => createMasker({ phrases: ["hunter2"] }),
    timestamps: true,
    clock,
    ...opts,
  });
  return { buffer, log, text: () => dec(buffer.read(0, 1 << 20)) };
}

describe("job log", () => {
  test("a secret split across stdout writes is masked in the buffer", async () => {
    const { log, text } = await setup();
    log.output("stdout", enc("password: hun"));
    log.output("stdout", enc("ter2\n"));
    log.finish();
    expect(text()).toBe(`${T} 01O password: [MASKED]\n`);
  });

  test("a secret split by another stream's write is still masked (one masker per stream)", async () => {
    const { log, text } = await setup();
    log.output("stdout", enc("a hunt"));
    log.output("stderr", enc("warning\n"));
    log.runnerLine("Running after_script");
    log.output("stdout", enc("er2 b\n"));
    log.finish();
    expect(text()).toBe(
      [`${T} 01E warning\n`, `${T} 00O Running after_script\n`, `${T} 01O a [MASKED] b\n`].join(""),
    );
  });

  test("the runner's own lines are masked and timestamped on stream 00", async () => {
    const { log, text } = await setup();
    log.runnerLine("ERROR: Job failed: hunter2");
    log.runnerLine("done\n");
    log.finish();
    expect(text()).toBe(`${T} 00O ERROR: Job failed: [MASKED]\n${T} 00O done\n`);
  });

  test("raw runner bytes go through as written: a section marker keeps its \\e[0K, its headline continues it (00O+)", async () => {
    const { log, text } = await setup();
    log.runner(enc("section_start:1:step_script\r\x1b[0K"));
    log.runner(enc("Executing hunter2\n"));
    log.finish();
    // GitLab Runner 19.1+ (TestCarriageReturnDoesNotSplitWrite): the \r flushes the whole write as
    // one entry, ended by an added \n; the next entry continues it (00O+).
    expect(text()).toBe(`${T} 00O section_start:1:step_script\r\x1b[0K\n${T} 00O+Executing [MASKED]\n`);
  });

  test("endOutput releases held-back bytes and ends a partial line", async () => {
    const { log, text } = await setup();
    log.output("stdout", enc("ends with hunt"));
    log.endOutput();
    expect(text()).toBe(`${T} 01O ends with hunt\n`);
    log.output("stdout", enc("er2\n"));
    log.finish();
    // A new stage: the held "hunt" was released, so "er2" is not a secret any more.
    expect(text()).toBe(`${T} 01O ends with hunt\n${T} 01O er2\n`);
  });

  test("without timestamps the masked bytes go to the buffer as they are", async () => {
    const { log, text } = await setup({ timestamps: false });
    log.output("stdout", enc("x hun"));
    log.output("stdout", enc("ter2 y\npartial"));
    log.runnerLine("line");
    log.finish();
    // No line buffering without timestamps: a partial line is written at once, as in GitLab Runner.
    expect(text()).toBe("x [MASKED] y\npartialline\n");
  });

  test("without a masker the output is only timestamped", async () => {
    const { log, text } = await setup({ masker: undefined });
    log.output("stderr", enc("hunter2\n"));
    log.finish();
    expect(text()).toBe(`${T} 01E hunter2\n`);
  });

  test("bytesize and checksum are those of the bytes in the buffer (what is PATCHed)", async () => {
    const { buffer, log } = await setup();
    log.runnerLine("Running with runmesh");
    for (let i = 0; i < 100; i++) log.output(i % 3 ? "stdout" : "stderr", enc(`line ${i} hunter2 é\n`));
    log.finish();
    const kept = buffer.read(0, buffer.size + 1);
    expect(log.size).toBe(kept.length);
    expect(log.size).toBe(buffer.size);
    expect(log.checksum()).toBe(crcOf(kept));
    expect(dec(kept)).not.toContain("hunter2");
    expect(dec(kept).split("\n").filter(Boolean)).toHaveLength(101);
  });

  test("the output limit counts the timestamp headers", async () => {
    const { buffer, log } = await setup({ limitBytes: 100 });
    for (let i = 0; i < 10; i++) log.output("stdout", enc("0123456789\n"));
    log.finish();
    expect(buffer.truncated).toBe(true);
    expect(dec(buffer.read(0, 100))).toStartWith(`${T} 01O 0123456789\n${T} 01O 0123456789\n`);
  });

  test("writes after finish are ignored; finish is idempotent", async () => {
    const { buffer, log } = await setup();
    log.output("stdout", enc("a\n"));
    log.finish();
    const size = buffer.size;
    log.output("stdout", enc("late\n"));
    log.runnerLine("late");
    log.finish();
    expect(buffer.size).toBe(size);
  });
});
