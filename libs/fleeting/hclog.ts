// hclog's JSON lines, both ways. A go-plugin plugin logs hclog JSON (`@level`, `@message`,
// `@module`, `@timestamp`, then its own key/values) on its original stderr; the host re-emits
// each line under its own logger and keeps non-JSON lines verbatim at debug
// (autoscaling.md §1.2.2, fleeting-protocol.md §2.2). Our TypeScript plugins write the same.

export type HclogLevel = "trace" | "debug" | "info" | "warn" | "error";

export interface HclogLine {
  level: HclogLevel;
  message: string;
  module?: string;
  /** The plugin's own key/values. */
  fields: Record<string, unknown>;
}

const LEVELS = new Set<string>(["trace", "debug", "info", "warn", "error"]);

/** One stderr line of a plugin: hclog JSON, or plain text (kept at debug). */
export function parseHclogLine(line: string): HclogLine {
  const text = line.trimEnd();
  if (text.startsWith("{")) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      if (typeof o["@message"] === "string") {
        const {
          "@level": level,
          "@message": message,
          "@module": module,
          "@timestamp": _ts,
          "@caller": _c,
          ...fields
        } = o;
        const lv = String(level ?? "info").toLowerCase();
        return {
          level: (LEVELS.has(lv) ? lv : lv === "warning" ? "warn" : "info") as HclogLevel,
          message: message as string,
          ...(typeof module === "string" ? { module } : {}),
          fields,
        };
      }
    } catch {}
  }
  return { level: "debug", message: text, fields: {} };
}

/** hclog's timestamp layout `2006-01-02T15:04:05.000000Z07:00`, in UTC. */
export function hclogTimestamp(d: Date): string {
  return `${d.toISOString().slice(0, 23)}000Z`;
}

export function formatHclogLine(l: HclogLine, now = new Date()): string {
  return `${JSON.stringify({
    "@level": l.level,
    "@message": l.message,
    ...(l.module ? { "@module": l.module } : {}),
    "@timestamp": hclogTimestamp(now),
    ...l.fields,
  })}\n`;
}

/** What our plugins log through: hclog JSON to a writer (the plugin's original stderr). */
export interface PluginLog {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function hclogWriter(module: string, write: (line: string) => void): PluginLog {
  const at =
    (level: HclogLevel) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      write(formatHclogLine({ level, message, module, fields }));
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
