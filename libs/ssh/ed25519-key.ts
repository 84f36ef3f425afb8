// An ed25519 key pair in OpenSSH format that ssh2 (and sshd) can read back. ssh2's own
// generateKeyPairSync("ed25519") under Bun writes a malformed key about once in 500 (a public
// key of 31 bytes: a leading zero byte dropped on export), which made a fleeting docker group's
// Init fail at random; such a pair is thrown away and made again.
import ssh2 from "ssh2";

const ATTEMPTS = 20;

export function ed25519KeyPair(generate = () => ssh2.utils.generateKeyPairSync("ed25519")): {
  private: string;
  public: string;
} {
  for (let i = 0; i < ATTEMPTS; i++) {
    const pair = generate();
    const parsed = ssh2.utils.parseKey(pair.private);
    if (parsed instanceof Error) continue;
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    // The SSH wire form: string "ssh-ed25519" (4 + 11 bytes), then the 32-byte key with its length.
    if (key && key.getPublicSSH().length === 4 + 11 + 4 + 32) return pair;
  }
  throw new Error(`no well-formed ed25519 key pair in ${ATTEMPTS} attempts`);
}
