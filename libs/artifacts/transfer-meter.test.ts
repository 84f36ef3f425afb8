// TRANSFER_METER_FREQUENCY: the formatters as GitLab Runner's meter package prints (its
// formatters_test.go values), and the meter lines in the log of a throttled download and a
// throttled upload: lines when the frequency is set, none when it is not. Counts, never timings.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { archiveSettings } from "./archive-settings.ts";
import { downloadArtifact, uploadArtifact } from "./artifacts-client.ts";
import { formatByteRate, formatBytes, meterLine } from "./transfer-meter.ts";

describe("meter formatting (pure)", () => {
  test.each([
    [0, "0 B"],
    [999, "999 B"],
    [1000, "1.00 KB"],
    [1500, "1.50 KB"],
    [1_000_000, "1.00 MB"],
    [2_500_000_000, "2.50 GB"],
  ])("formatBytes(%p) = %p", (b, want) => expect(formatBytes(b)).toBe(want));

  test.each([
    [500, 1000, "500 B/s"],
    [1500, 1000, "1.5 KB/s"],
    [3_000_000, 2000, "1.5 MB/s"],
    [10, 0, "10.0 GB/s"],
  ])("formatByteRate(%p, %p ms) = %p", (b, ms, want) => expect(formatByteRate(b, ms)).toBe(want));

  test("lines start with \\r, carry the total when known, and only the last ends the line", () => {
    expect(meterLine("Uploading artifacts", 1500, 0, 1000, false)).toBe(
      "\rUploading artifacts 1.50 KB (1.5 KB/s)                ",
    );
    expect(meterLine("Downloading cache", 1500, 3000, 1000, true)).toBe(
      "\rDownloading cache 1.50 KB/3.00 KB (1.5 KB/s)                \n",
    );
  });

  test.each([
    ["", 0],
    ["2s", 2000],
    ["1m30s", 90_000],
    ["0", 0],
    ["often", 0],
  ])("TRANSFER_METER_FREQUENCY=%p gives a %p ms meter", (value, want) => {
    const s = archiveSettings((k) => (k === "TRANSFER_METER_FREQUENCY" ? value : undefined));
    expect(s.meterFrequencyMs).toBe(want);
    expect(s.warnings.length).toBe(value === "often" ? 1 : 0);
  });
});

describe("meter lines on throttled transfers", () => {
  const CHUNK = 64 * 1024;
  const CHUNKS = 5;
  let server: ReturnType<typeof Bun.serve>;
  let uploadedBytes = 0;
  const root = mkdtempSync(join(tmpdir(), "runmesh-meter-"));
  beforeAll(() => {
    // A slow link both ways: 5 chunks 600 ms apart (download); a body read with 100 ms pauses
    // between reads (upload, job 8 only).
    server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        if (req.method === "GET") {
          let sent = 0;
          return new Response(
            new ReadableStream({
              async pull(ctl) {
                if (sent === CHUNKS) return ctl.close();
                if (sent > 0) await Bun.sleep(600);
                ctl.enqueue(new Uint8Array(CHUNK).fill(sent++));
              },
            }),
          );
        }
        uploadedBytes = 0;
        const reader = req.body!.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          uploadedBytes += value.byteLength;
          if (req.url.includes("/jobs/8/")) await Bun.sleep(100);
        }
        return new Response("{}", { status: 201 });
      },
    });
  });
  afterAll(() => {
    server.stop(true);
    rmSync(root, { recursive: true, force: true });
  });
  const sink = () => {
    const raw: string[] = [];
    return { raw, out: { raw: (t: string) => raw.push(t) } };
  };
  const base = () => `http://127.0.0.1:${server.port}`;

  test("download: progress lines in GitLab's words when set, none when unset", async () => {
    const on = sink();
    const got = await downloadArtifact({
      baseUrl: base(),
      jobId: 7,
      token: "t",
      outPath: join(root, "a"),
      directDownload: false,
      meter: { out: on.out, frequencyMs: 1000 },
    });
    expect(got.ok).toBe(true);
    const lines = on.raw.filter((l) => l.startsWith("\rDownloading artifacts "));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.filter((l) => l.endsWith("\n")).length).toBe(1);
    expect(lines.at(-1)).toContain(formatBytes(CHUNK * CHUNKS));

    const off = sink();
    const quiet = await downloadArtifact({
      baseUrl: base(),
      jobId: 7,
      token: "t",
      outPath: join(root, "b"),
      directDownload: false,
      meter: { out: off.out, frequencyMs: 0 },
    });
    expect(quiet.ok).toBe(true);
    expect(off.raw.length).toBe(0);
  });

  test("upload: the streamed body is counted as it leaves (the last line has every byte sent)", async () => {
    const file = join(root, "big.bin");
    writeFileSync(file, new Uint8Array(2 * 1024 * 1024).fill(7));
    const on = sink();
    const sent = await uploadArtifact({
      baseUrl: base(),
      jobId: 8,
      token: "t",
      filePath: file,
      fileName: "big.bin",
      meter: { out: on.out, frequencyMs: 1000 },
    });
    expect(sent.ok).toBe(true);
    const lines = on.raw.filter((l) => l.startsWith("\rUploading artifacts "));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)).toContain(formatBytes(uploadedBytes));
    expect(uploadedBytes).toBeGreaterThan(2 * 1024 * 1024);

    const off = sink();
    expect(
      (
        await uploadArtifact({
          baseUrl: base(),
          jobId: 9,
          token: "t",
          filePath: file,
          fileName: "big.bin",
          meter: { out: off.out, frequencyMs: 0 },
        })
      ).ok,
    ).toBe(true);
    expect(off.raw.length).toBe(0);
  });
});
