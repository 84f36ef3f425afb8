// A job's log as GitLab Runner writes it: each stream's bytes → its own masker → the
// timestamper (FF_TIMESTAMPS) → the TraceBuffer (UTF-8 sanitising, output limit, file, CRC32).
// So the buffer's `size`/`checksum()` describe the masked, timestamped bytes that are PATCHed.
//
// Streams: runner messages are stream 00 (stdout); script output is stream 01, stdout `O` and
// stderr `E`. Each stream has its own masker, because a masker holds back the possible start
// of a secret for that stream's next write; sharing one would let another stream's write
// release (or complete) it.
//
// The buffer must be created WITHOUT a `transform`: masking happens here, before timestamps.

import {
  type Clock,
  createTimestampedWriter,
  RUNNER_STREAM,
  SCRIPT_STREAM,
  type StreamType,
  type TimestampedWriter,
} from "./timestamps.ts";
import type { TraceBuffer, TraceTransform } from "./trace-buffer.ts";

export type OutputStream = "stdout" | "stderr";

export interface JobLogOptions {
  /** Where the bytes go; the part of TraceBuffer the log uses. */
  buffer: Pick<TraceBuffer, "write" | "finish" | "size" | "checksum">;
  /** Makes one masker per stream, e.g. `() => createMasker({ phrases, tokenPrefixes })`. */
  masker?: () => TraceTransform;
  /** FF_TIMESTAMPS (GitLab Runner's default is on). */
  timestamps: boolean;
  /** For timestamps; epoch ms, fractional for µs. Defaults to the system clock. */
  clock?: Clock;
}

export interface JobLog {
  /** A runner message (stream 00, stdout); a newline is added unless it ends with one. */
  runnerLine(text: string): void;
  /** Runner bytes as they are (section markers, headlines already formatted with their newline). */
  runner(bytes: Uint8Array): void;
  /** Script output (stream 01): stdout as `O`, stderr as `E`. */
  output(stream: OutputStream, bytes: Uint8Array): void;
  /**
   * End of a command's output (a build stage): releases what the script streams' maskers held
   * back and ends their partial lines with a newline, as GitLab Runner closes a stage's stream.
   */
  endOutput(): void;
  /** End of the job: `endOutput()`, the runner stream too, then `buffer.finish()`. Idempotent. */
  finish(): void;
  /** Bytes in the buffer: GitLab's `output.bytesize`. */
  readonly size: number;
  /** `crc32:%08x` over the bytes in the buffer: GitLab's `output.checksum`. */
  checksum(): string;
}

interface Channel {
  readonly streamId: number;
  readonly type: StreamType;
  readonly masker: TraceTransform | undefined;
}

const encoder = new TextEncoder();

export function createJobLog(opts: JobLogOptions): JobLog {
  const { buffer } = opts;
  const stamper: TimestampedWriter | undefined = opts.timestamps
    ? createTimestampedWriter((b) => buffer.write(b), opts.clock ? { clock: opts.clock } : {})
    : undefined;
  const channels = new Map<string, Channel>();
  let finished = false;

  const channel = (streamId: number, type: StreamType): Channel => {
    const key = `${streamId}${type}`;
    let ch = channels.get(key);
    if (!ch) {
      ch = { streamId, type, masker: opts.masker?.() };
      channels.set(key, ch);
    }
    return ch;
  };

  const emit = (ch: Channel, bytes: Uint8Array): void => {
    if (bytes.length === 0) return;
    if (stamper) stamper.write(ch.streamId, ch.type, bytes);
    else buffer.write(bytes);
  };

  const push = (streamId: number, type: StreamType, bytes: Uint8Array): void => {
    if (finished || bytes.length === 0) return;
    const ch = channel(streamId, type);
    emit(ch, ch.masker ? ch.masker.transform(bytes) : bytes);
  };

  const end = (streamId: number, type: StreamType): void => {
    const key = `${streamId}${type}`;
    const ch = channels.get(key);
    if (!ch) return;
    channels.delete(key);
    if (ch.masker) emit(ch, ch.masker.flush());
    stamper?.end(streamId, type);
  };

  const endOutput = (): void => {
    end(SCRIPT_STREAM, "O");
    end(SCRIPT_STREAM, "E");
  };

  return {
    runnerLine(text) {
      push(RUNNER_STREAM, "O", encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
    },
    runner(bytes) {
      push(RUNNER_STREAM, "O", bytes);
    },
    output(stream, bytes) {
      push(SCRIPT_STREAM, stream === "stdout" ? "O" : "E", bytes);
    },
    endOutput() {
      if (!finished) endOutput();
    },
    finish() {
      if (finished) return;
      endOutput();
      end(RUNNER_STREAM, "O");
      stamper?.endAll();
      finished = true;
      buffer.finish();
    },
    get size() {
      return buffer.size;
    },
    checksum() {
      return buffer.checksum();
    },
  };
}
