// AES-256-GCM for what the mesh seals: a job record's secrets (record-seal.ts) and a stored job
// payload (payload-handover.ts). The output carries its nonce and tag (nonce ‖ tag ‖ ciphertext);
// `aad` binds it to its place (a job key), so a sealed value copied under another name fails.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const NONCE = 12;
const TAG = 16;
export const AEAD_KEY_BYTES = 32;

export function newAeadKey(): Uint8Array {
  return randomBytes(AEAD_KEY_BYTES);
}

export function seal(key: Uint8Array, plain: Uint8Array, aad: string): Uint8Array {
  const nonce = randomBytes(NONCE);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([nonce, c.getAuthTag(), body]);
}

/** The plain bytes, or undefined when the key, the aad or a byte is wrong. */
export function open(key: Uint8Array, sealed: Uint8Array, aad: string): Uint8Array | undefined {
  if (sealed.byteLength < NONCE + TAG) return undefined;
  const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    const d = createDecipheriv("aes-256-gcm", key, b.subarray(0, NONCE));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(b.subarray(NONCE, NONCE + TAG));
    return Buffer.concat([d.update(b.subarray(NONCE + TAG)), d.final()]);
  } catch {
    return undefined;
  }
}
