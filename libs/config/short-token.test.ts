import { expect, test } from "bun:test";
import { shortToken } from "./short-token.ts";

test.each([
  ["glrt-AbCdEfGhIjKlMnOp", "AbCdEfGhI"],
  ["glrt-t1_AbCdEfGhIjKlMnOp", "AbCdEfGhI"],
  ["glrt-t3_AbCdEfGhIjKlMnOp", "AbCdEfGhI"],
  ["t2_AbCdEfGhIjKlMnOp", "AbCdEfGhI"],
  ["glrtr-AbCdEfGhIjKlMnOp", "AbCdEfGhI"],
  ["glcbt-AbCdEfGhIjKlMnOp", "AbCdEfGhI"],
  ["GR1348941AbCdEfGhIjKl", "AbCdEfGhI"],
  ["GRnothex123456789", "GRnothex1"],
  ["t4_AbCdEfGhIjKl", "t4_AbCdEf"],
  ["0123456789abcdef", "012345678"],
  ["short", "short"],
  ["", ""],
  ["glrt-demo-runner-token-0001", "demo-runn"],
])("shortToken(%p) is %p", (token, short) => {
  expect(shortToken(token)).toBe(short);
});
