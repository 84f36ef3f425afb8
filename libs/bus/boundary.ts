// What happens to a message once a transport has it: decode at the boundary, call the service's
// handler, and make sure nothing a handler or a sender does can crash the process. Transports only
// move strings and headers; this file is where they become typed values.
import type { z } from "zod";
import type { Logger } from "../log/logger.ts";
import type { Delivered, Headers, Rpc, Topic } from "./bus.ts";
import { BusSchemaError } from "./bus.ts";
import { decodeMessage, encodeMessage, encodeReplyError } from "./envelope.ts";

export class Boundary {
  constructor(private readonly log: Logger) {}

  /** Decodes a pub/sub message and runs the handler; a bad message is logged and dropped. */
  async receive<S extends z.ZodType>(
    topic: Topic<S>,
    subject: string,
    raw: string,
    headers: Headers,
    handler: (msg: Delivered<z.output<S>>) => Promise<void> | void,
  ): Promise<void> {
    const data = this.decode(topic.schema, subject, raw);
    if (data === undefined) return;
    try {
      await handler({ data: data.value, headers, subject });
    } catch (err) {
      this.log.error({ subject, err }, "bus subscriber failed on a message; the message is dropped");
    }
  }

  /** Answers one request; returns the encoded reply, an error reply when anything failed. */
  async answer<Req extends z.ZodType, Res extends z.ZodType>(
    rpc: Rpc<Req, Res>,
    subject: string,
    raw: string,
    headers: Headers,
    handler: (req: Delivered<z.output<Req>>) => Promise<z.input<Res>> | z.input<Res>,
  ): Promise<string> {
    try {
      const data = decodeMessage(subject, rpc.request, raw);
      const result = await handler({ data, headers, subject });
      return encodeMessage(`${subject} (reply)`, rpc.response, result);
    } catch (err) {
      if (err instanceof BusSchemaError) {
        this.log.warn({ subject, reason: err.message }, "bus request rejected: it does not match its schema");
      } else {
        this.log.warn({ subject, err }, "bus request handler failed; the requester gets its message");
      }
      return encodeReplyError(err);
    }
  }

  /** Decodes a message; `undefined` (and a log line) when it breaks the envelope or the schema. */
  decode<S extends z.ZodType>(schema: S, subject: string, raw: string): { value: z.output<S> } | undefined {
    try {
      return { value: decodeMessage(subject, schema, raw) };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.log.warn({ subject, reason }, "bus message dropped: it does not match its schema");
      return undefined;
    }
  }

  /** Runs a handler that must not throw out of the transport's callback. */
  async guard(what: string, fields: Record<string, unknown>, fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.error({ ...fields, err }, what);
    }
  }
}
