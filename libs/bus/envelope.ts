// The wire format of every bus message, `{ v, data }` as JSON, and the checks at the receiving
// boundary: the envelope version, then the topic's zod schema. Both transports use these, so a
// message that one rejects the other rejects the same way.
import { z } from "zod";
import { BusRemoteError, BusSchemaError, ENVELOPE_VERSION } from "./bus.ts";

const envelopeSchema = z.object({
  v: z.number(),
  data: z.unknown().optional(),
  /** Only on Rpc replies: the serving side failed. */
  error: z.object({ name: z.string(), message: z.string() }).optional(),
});

/** Checks `data` against the schema (so the sender learns of its mistake) and wraps it. */
export function encodeMessage(subject: string, schema: z.ZodType, data: unknown): string {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new BusSchemaError(subject, describeZodError(parsed.error));
  // The input travels, not the parsed output: the receiver parses it again with the same schema,
  // and transforms or defaults are not always idempotent.
  const raw = JSON.stringify({ v: ENVELOPE_VERSION, data });
  justEncoded.remember(raw, schema, parsed.data);
  return raw;
}

/**
 * The last messages this process encoded, with the schema's output for them. When the same
 * process receives one of them (`runmesh run`, a KV record read back after its write), the
 * receiver gets a copy of that output instead of parsing the text again: it is what the parse
 * would give, since the sender's check ran the same schema on the same data. A cold parse of a
 * job costs ~0.5 ms against ~0.1 ms for the copy, twice on the way to each job's pickup
 * (issue 16). Text from another process only matches when it is byte for byte the same.
 */
class JustEncoded {
  private readonly entries = new Map<string, { schema: z.ZodType; output: unknown }>();
  constructor(
    private readonly maxEntries: number,
    private readonly maxChars: number,
  ) {}

  remember(raw: string, schema: z.ZodType, output: unknown): void {
    if (raw.length > this.maxChars) return;
    this.entries.delete(raw);
    this.entries.set(raw, { schema, output });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** A private copy of the output, or undefined when `raw` was not just encoded with `schema`. */
  recall(raw: string, schema: z.ZodType): { value: unknown } | undefined {
    const hit = this.entries.get(raw);
    if (hit?.schema !== schema) return undefined;
    try {
      return { value: structuredClone(hit.output) };
    } catch {
      return undefined; // an output structuredClone cannot copy: parse it as any message
    }
  }
}

const justEncoded = new JustEncoded(32, 64 * 1024);

/** Unwraps and validates a received message; throws BusSchemaError saying what was wrong. */
export function decodeMessage<S extends z.ZodType>(subject: string, schema: S, raw: string): z.output<S> {
  const known = justEncoded.recall(raw, schema);
  if (known) return known.value as z.output<S>;
  const envelope = parseEnvelope(subject, raw);
  const parsed = schema.safeParse(envelope.data);
  if (!parsed.success) throw new BusSchemaError(subject, describeZodError(parsed.error));
  return parsed.data;
}

export function encodeReplyError(err: unknown): string {
  const error =
    err instanceof Error ? { name: err.name, message: err.message } : { name: "Error", message: String(err) };
  return JSON.stringify({ v: ENVELOPE_VERSION, error });
}

/** Unwraps an Rpc reply: the handler's failure becomes BusRemoteError, a bad reply BusSchemaError. */
export function decodeReply<S extends z.ZodType>(subject: string, schema: S, raw: string): z.output<S> {
  const known = justEncoded.recall(raw, schema);
  if (known) return known.value as z.output<S>;
  const envelope = parseEnvelope(subject, raw);
  if (envelope.error) throw new BusRemoteError(subject, envelope.error.name, envelope.error.message);
  const parsed = schema.safeParse(envelope.data);
  if (!parsed.success) throw new BusSchemaError(`${subject} (reply)`, describeZodError(parsed.error));
  return parsed.data;
}

function parseEnvelope(subject: string, raw: string): z.infer<typeof envelopeSchema> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new BusSchemaError(subject, `not JSON: ${JSON.stringify(raw.slice(0, 80))}`);
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) {
    throw new BusSchemaError(
      subject,
      `not a runmesh envelope { v, data }: ${describeZodError(envelope.error)}`,
    );
  }
  if (envelope.data.v !== ENVELOPE_VERSION) {
    throw new BusSchemaError(
      subject,
      `envelope version ${envelope.data.v}, this process speaks ${ENVELOPE_VERSION}: run the same runmesh version on every service`,
    );
  }
  return envelope.data;
}

/** zod's readable report on one line, e.g. `✖ Invalid input: expected string → at jobKey`. */
export function describeZodError(error: z.ZodError): string {
  return z
    .prettifyError(error)
    .replace(/\n\s*→/g, " →")
    .replace(/\n+/g, "; ");
}
