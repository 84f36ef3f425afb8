// Builders for the typed subjects in subjects.ts: the subject is checked once, here, so a bad
// name fails at startup rather than on the first message.
import type { z } from "zod";
import type { Rpc, Topic } from "./bus.ts";
import { assertSubject } from "./subject-match.ts";

/** A pub/sub (or work-queue) subject with its schema. Wildcards are allowed for subscribers only. */
export function topic<S extends z.ZodType>(subject: string, schema: S): Topic<S> {
  assertSubject(subject, { wildcards: true });
  return { subject, schema };
}

/** A request/reply subject with the schemas of the request and of the reply. */
export function rpc<Req extends z.ZodType, Res extends z.ZodType>(
  subject: string,
  request: Req,
  response: Res,
): Rpc<Req, Res> {
  assertSubject(subject, { wildcards: true });
  return { subject, request, response };
}
