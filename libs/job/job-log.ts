// Runner-written lines of the job log, byte for byte as GitLab Runner's build logger writes
// them (common/buildlogger/internal/tee.go): Println clears the line first, every line ends
// with an ANSI reset, errors and warnings carry their coloured prefixes.
import { ANSI } from "../shell/bash.ts";

/** Where the job log goes (the trace buffer, in the worker). */
export interface LogSink {
  write(bytes: Uint8Array): unknown;
}

const encoder = new TextEncoder();

export class JobLog {
  constructor(
    private readonly sink: LogSink,
    private readonly traceSections: boolean,
  ) {}

  raw(text: string | Uint8Array): void {
    this.sink.write(typeof text === "string" ? encoder.encode(text) : text);
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
