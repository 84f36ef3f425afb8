// Runner-written lines of the job log, byte for byte as GitLab Runner's build logger writes
// them (common/buildlogger/internal/tee.go): Println clears the line first, every line ends
// with an ANSI reset, errors and warnings carry their coloured prefixes.
import { ANSI } from "../shell/bash.ts";

/**
 * Where a job's log goes: the worker's trace pipeline (libs/trace createJobLog: masking,
 * timestamps, buffer). Runner bytes and script output are kept apart because GitLab Runner
 * timestamps them as different streams (00 vs 01) and masks each stream on its own.
 */
export interface JobTraceSink {
  /** Runner-written bytes (header, section markers, headlines, warnings, footer), raw. */
  runner(bytes: Uint8Array): void;
  /** The executor's script output, by stream, as it arrives. */
  output(stream: "stdout" | "stderr", bytes: Uint8Array): void;
  /** The end of one stage's command output (flushes maskers, ends partial lines). */
  endOutput(): void;
}

const encoder = new TextEncoder();

export class JobLog {
  constructor(
    private readonly sink: JobTraceSink,
    private readonly traceSections: boolean,
  ) {}

  raw(text: string | Uint8Array): void {
    this.sink.runner(typeof text === "string" ? encoder.encode(text) : text);
  }

  output(stream: "stdout" | "stderr", bytes: Uint8Array): void {
    this.sink.output(stream, bytes);
  }

  endOutput(): void {
    this.sink.endOutput();
  }

  println(text = ""): void {
    this.raw(`${ANSI.clear}${text}${ANSI.reset}\n`);
  }

  info(text: string): void {
    this.raw(`${ANSI.boldGreen}${text}${ANSI.reset}\n`);
  }

  warning(text: string): void {
    this.raw(`${ANSI.yellow}WARNING: ${text}${ANSI.reset}\n`);
  }

  error(text: string): void {
    this.raw(`${ANSI.boldRed}ERROR: ${text}${ANSI.reset}\n`);
  }

  /** A stage headline, wrapped in collapsible section markers when the job's features ask. */
  sectionStart(name: string, headline: string): void {
    if (this.traceSections) this.raw(`section_start:${unixNow()}:${name}\r${ANSI.clear}`);
    this.println(`${ANSI.boldCyan}${headline}${ANSI.reset}`);
  }

  sectionEnd(name: string): void {
    if (this.traceSections) this.raw(`section_end:${unixNow()}:${name}\r${ANSI.clear}`);
  }
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
