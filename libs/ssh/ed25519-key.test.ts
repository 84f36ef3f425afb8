import { expect, test } from "bun:test";
import ssh2 from "ssh2";
import { ed25519KeyPair } from "./ed25519-key.ts";

test("every pair it returns parses, with a 32-byte public key (ssh2 alone fails ~1 in 500 under Bun)", () => {
  for (let i = 0; i < 2000; i++) {
    const parsed = ssh2.utils.parseKey(ed25519KeyPair().private);
    expect(parsed).not.toBeInstanceOf(Error);
  }
});

test("a malformed pair is made again", () => {
  const good = ssh2.utils.generateKeyPairSync("ed25519");
  const pairs = [
    { private: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----", public: "" },
    good,
  ];
  let calls = 0;
  expect(ed25519KeyPair(() => pairs[calls++]!)).toBe(good);
  expect(calls).toBe(2);
});

test("it gives up with a clear error instead of looping", () => {
  expect(() => ed25519KeyPair(() => ({ private: "not a key", public: "" }))).toThrow(
    "no well-formed ed25519 key pair in 20 attempts",
  );
});
