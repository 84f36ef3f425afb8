// TRANSFER_METER_FREQUENCY: progress of artifact and cache transfers in the job log, as GitLab
// Runner's commands/helpers/meter package writes it. Off when the frequency is 0 (the default);
// otherwise never more often than once a second. A line goes out when the transfer starts, at each
// tick, and once more when it ends; ticks begin with `\r` and no newline, so GitLab's log view
// redraws one line in place, and the last line ends with a newline:
//   `\rUploading artifacts 1.20 MB/3.40 MB (600.0 KB/s)                `
// Sizes and rates use decimal units (1 KB = 1000 B), as the meter's formatters do.

const UNIT = 1000;
const PREFIXES = "KMGTPE";

function scaled(b: number): [number, string] {
  if (b < UNIT) return [b, ""];
  let div = UNIT;
  let exp = 0;
  for (let n = Math.floor(b / UNIT); n >= UNIT; n = Math.floor(n / UNIT)) {
    div *= UNIT;
    exp++;
  }
  return [b / div, PREFIXES[exp]!];
}

/** `999 B`, `1.50 KB`, `2.00 GB` (meter.FormatBytes). */
export function formatBytes(b: number): string {
  const [v, p] = scaled(Math.floor(b));
  return p === "" ? `${v} B` : `${v.toFixed(2)} ${p}B`;
}

/** `512 B/s`, `1.5 MB/s` (meter.FormatByteRate); a zero duration counts as 1 ns. */
export function formatByteRate(b: number, elapsedMs: number): string {
  const perSecond = Math.floor(b / Math.max(1e-9, elapsedMs / 1000));
  const [v, p] = scaled(perSecond);
  return p === "" ? `${v} B/s` : `${v.toFixed(1)} ${p}B/s`;
}

/** One meter line (meter.LabelledRateFormat); `total` 0 means unknown. */
export function meterLine(label: string, written: number, total: number, elapsedMs: number, done: boolean) {
  const known = total > 0 ? `/${formatBytes(total)}` : "";
  const line = `\r${label} ${formatBytes(written)}${known} (${formatByteRate(written, elapsedMs)})                `;
  return done ? `${line}\n` : line;
}

export interface MeterOutput {
  /** Raw text into the job log (JobLog.raw). */
  raw(text: string): void;
}

/** A running meter: count bytes with `add`, then `stop` once (prints the final line). */
export interface TransferMeter {
  add(bytes: number): void;
  stop(): void;
}

const NO_METER: TransferMeter = { add() {}, stop() {} };

/**
 * Starts a meter labelled like GitLab Runner's ("Uploading artifacts", "Downloading artifacts",
 * "Uploading cache", "Downloading cache"); a no-op when `frequencyMs` is 0 or there is no output.
 */
export function startMeter(
  out: MeterOutput | undefined,
  label: string,
  total: number,
  frequencyMs: number,
): TransferMeter {
  if (!out || !(frequencyMs > 0)) return NO_METER;
  const started = performance.now();
  let written = 0;
  let stopped = false;
  const tick = (done: boolean) =>
    out.raw(meterLine(label, written, total, performance.now() - started, done));
  tick(false);
  const timer = setInterval(() => tick(false), Math.max(1000, frequencyMs));
  return {
    add(bytes) {
      written += bytes;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      tick(true);
    },
  };
}

/** Counts the bytes of a web stream as they are pulled through it. */
export function meteredStream(
  source: ReadableStream<Uint8Array>,
  meter: TransferMeter,
): ReadableStream<Uint8Array> {
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        meter.add(chunk.byteLength);
        controller.enqueue(chunk);
      },
    }),
  );
}
