import { describe, expect, test } from "bun:test";
import { isUtf8 } from "node:buffer";
import {
  createMasker,
  DEFAULT_TOKEN_PREFIXES,
  honouredTokenPrefixes,
  MAX_TOKEN_PREFIXES,
  type MaskerOptions,
  maskWhole,
} from "./masking.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const mask = (text: string, opts: Partial<MaskerOptions> = {}) =>
  dec(maskWhole(enc(text), { phrases: [], ...opts }));

/** Streams `chunks` through one masker, returning what came out of each write, then of flush. */
function stream(chunks: Uint8Array[], opts: MaskerOptions): Uint8Array[] {
  const m = createMasker(opts);
  // Copies: a masker's output may be a view of its input, valid until the next call.
  const outs = chunks.map((c) => new Uint8Array(m.transform(c)));
  outs.push(new Uint8Array(m.flush()));
  return outs;
}
const joined = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe("masked variable values", () => {
  test.each<[string, string[], string, string]>([
    ["a value anywhere in the text", ["hunter2"], "pw=hunter2.", "pw=[MASKED]."],
    [
      "every occurrence, adjacent ones separately",
      ["s3cr3t"],
      "s3cr3ts3cr3t s3cr3t",
      "[MASKED][MASKED] [MASKED]",
    ],
    [
      "the longest value when one is a prefix of another",
      ["abc", "abcdef"],
      "xabcdefx abcx",
      "x[MASKED]x [MASKED]x",
    ],
    ["the longest value whichever order they are given in", ["abcdef", "abc"], "abcdef", "[MASKED]"],
    ["a value after a false start that overlaps it", ["aab"], "aaab", "a[MASKED]"],
    ["the leftmost of two overlapping values", ["abc", "bcdef"], "abcdef", "[MASKED]def"],
    ["a value without the spaces around it (GitLab Runner trims)", [" tok3n "], "x tok3n y", "x [MASKED] y"],
    ["nothing for an empty or blank value", ["", "  "], "plain text", "plain text"],
    ["a multi-byte value, leaving its neighbours intact", ["pässwörd"], "é pässwörd 🐤", "é [MASKED] 🐤"],
    [
      "the runner's own messages too",
      ["hunter2"],
      "ERROR: Job failed: hunter2\n",
      "ERROR: Job failed: [MASKED]\n",
    ],
    ["a value that looks like the mask's own text", ["[MASKED]x"], "[MASKED]x", "[MASKED]"],
  ])("masks %s", (_, phrases, text, expected) => {
    expect(mask(text, { phrases })).toBe(expected);
  });
});

describe("prefixed tokens", () => {
  test.each<[string, string, Partial<MaskerOptions>, string]>([
    [
      "keeps glpat- visible and masks the body",
      "token glpat-AbC_12.3=x-y done",
      {},
      "token glpat-[MASKED] done",
    ],
    ["masks a body that runs to the end", "glpat-abc", {}, "glpat-[MASKED]"],
    ["leaves a prefix with no body", "glpat- and glpat-", {}, "glpat- and glpat-"],
    ["is case-sensitive about the prefix", "GLPAT-abc", {}, "GLPAT-abc"],
    [
      "masks the default prefixes",
      "glrt-abc gldt-x _gitlab_session=zz;",
      {},
      "glrt-[MASKED] gldt-[MASKED] _gitlab_session=[MASKED];",
    ],
    ["prefers the longest prefix at a position", "glrtr-abc", {}, "glrtr-[MASKED]"],
    [
      "only glpat- without FF_MASK_ALL_DEFAULT_TOKENS",
      "glrt-abc glpat-x",
      { maskAllDefaultTokens: false },
      "glrt-abc glpat-[MASKED]",
    ],
    ["masks the job's own prefixes", "mytok_123 x", { tokenPrefixes: ["mytok_"] }, "mytok_[MASKED] x"],
    ["swallows a prefix inside a body", "glpat-abcglrt-def", {}, "glpat-[MASKED]"],
    ["stops the body at a character outside the alphabet", "glpat-ab/cd", {}, "glpat-[MASKED]/cd"],
  ])("%s", (_, text, opts, expected) => {
    expect(mask(text, opts)).toBe(expected);
  });

  test("glpat- and the FF_MASK_ALL_DEFAULT_TOKENS prefixes make 14; a 15th slot is left", () => {
    expect(honouredTokenPrefixes({})).toHaveLength(1 + DEFAULT_TOKEN_PREFIXES.length);
    expect(honouredTokenPrefixes({})).toHaveLength(14);
    expect(honouredTokenPrefixes({ maskAllDefaultTokens: false })).toEqual(["glpat-"]);
  });

  test("at most 15 prefixes are honoured: the shortest, as GitLab Runner sorts them", () => {
    const honoured = honouredTokenPrefixes({ tokenPrefixes: [" ab_ ", "cd_", "ab_", ""] });
    expect(honoured).toHaveLength(MAX_TOKEN_PREFIXES);
    expect(honoured.slice(0, 2)).toEqual(["ab_", "cd_"]);
    // The longest default falls off the end.
    expect(honoured).not.toContain("_gitlab_session=");
    expect(mask("_gitlab_session=xyz", { tokenPrefixes: ["qq_", "zz_"] })).toBe("_gitlab_session=xyz");
    expect(mask("_gitlab_session=xyz", { tokenPrefixes: ["qq_"] })).toBe("_gitlab_session=[MASKED]");
  });
});

describe("sensitive URL parameters", () => {
  test.each<[string, string, string]>([
    [
      "after ?",
      "GET https://h/p?private_token=abc123&page=2 200",
      "GET https://h/p?private_token=[MASKED]&page=2 200",
    ],
    ["after &, keys in any case", "u?a=1&X-Amz-Signature=deadbeef&b=2", "u?a=1&X-Amz-Signature=[MASKED]&b=2"],
    [
      "every listed key",
      "?authenticity_token=a&rss_token=b&x-amz-credential=c/d&x-amz-security-token=e",
      "?authenticity_token=[MASKED]&rss_token=[MASKED]&x-amz-credential=[MASKED]&x-amz-security-token=[MASKED]",
    ],
    [
      "up to whitespace or a control character",
      "?private_token=abc def\n?rss_token=x\ty",
      "?private_token=[MASKED] def\n?rss_token=[MASKED]\ty",
    ],
    ["up to a Unicode space (NBSP)", "?private_token=abc\u00a0def", "?private_token=[MASKED]\u00a0def"],
    ["an empty value too (as GitLab Runner does)", "?private_token=&x=1", "?private_token=[MASKED]&x=1"],
    ["a value that runs to the end", "?private_token=abc", "?private_token=[MASKED]"],
    ["not other keys", "?token=abc&private_tokens=x", "?token=abc&private_tokens=x"],
    ["not without ? or &", "private_token=abc", "private_token=abc"],
    ["non-ASCII value characters with the value", "?private_token=äbc€ next", "?private_token=[MASKED] next"],
  ])("masks values %s", (_, text, expected) => {
    expect(mask(text)).toBe(expected);
  });
});

test("the stages apply in GitLab Runner's order: values, URL parameters, then tokens", () => {
  expect(mask("git clone https://h/r.git?private_token=hunter2 glpat-x", { phrases: ["hunter2"] })).toBe(
    "git clone https://h/r.git?private_token=[MASKED] glpat-[MASKED]",
  );
});

describe("streaming", () => {
  const opts: MaskerOptions = { phrases: ["hunter2"] };

  test("a value split across writes is masked, and only its possible start is held back", () => {
    const outs = stream([enc("pw: hun"), enc("ter2 ok")], opts).map(dec);
    expect(outs).toEqual(["pw: ", "[MASKED] ok", ""]);
  });

  test("a false start is released as soon as it cannot be a value", () => {
    expect(stream([enc("a hunt"), enc("er!")], opts).map(dec)).toEqual(["a ", "hunter!", ""]);
  });

  test("text that cannot start a secret is not held back", () => {
    expect(stream([enc("hello world\n")], opts).map(dec)).toEqual(["hello world\n", ""]);
  });

  test("flush releases a held tail that never completed", () => {
    expect(stream([enc("x hunter")], opts).map(dec)).toEqual(["x ", "hunter"]);
  });

  test("a token body and a URL value split across writes are masked", () => {
    const outs = stream([enc("glp"), enc("at-ab"), enc("cd ?private_"), enc("token=ab"), enc("c&x")], {
      phrases: [],
    });
    expect(dec(joined(outs))).toBe("glpat-[MASKED] ?private_token=[MASKED]&x");
  });

  test("holds back less than the longest secret however long the output", () => {
    const m = createMasker({ phrases: ["0123456789abcdef"], tokenPrefixes: ["x-long-prefix-"] });
    let inLen = 0;
    let outLen = 0;
    const chunk = enc("0123456789abcde x-long-prefix".repeat(1000));
    for (let i = 0; i < 100; i++) {
      inLen += chunk.length;
      outLen += m.transform(chunk).length;
      expect(inLen - outLen).toBeLessThan(16);
    }
    outLen += m.flush().length;
    expect(outLen).toBe(inLen);
  });
});

// --- property test -------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failure replays from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

// Secrets use letters that "[MASKED]" does not contain, so the mask can never spell one.
const SECRET_CHARS = "BCFGHJLNPQRTVWXYZ0123456789";
// Filler is full of false starts: pieces of prefixes, parameter names, multi-byte characters.
const FILLER = [
  "a",
  "b",
  "e",
  "o",
  " ",
  " ",
  "\n",
  "\r",
  "?",
  "&",
  "=",
  ".",
  "-",
  "/",
  "é",
  "€",
  "🐤",
  "\u00a0",
  "gl",
  "glp",
  "glpat",
  "glrt",
  "_gitlab_sess",
  "private_tok",
  "x-amz-",
  "?private_token",
  "B",
  "BC",
  "7",
];

function randomCase(seed: number) {
  const r = prng(seed);
  const word = (min: number, max: number) => {
    let s = "";
    for (let n = min + r.int(max - min + 1); n > 0; n--) s += r.pick([...SECRET_CHARS]);
    return s;
  };
  const phrases: string[] = [];
  for (let n = 1 + r.int(4); n > 0; n--) {
    const w = word(1, 12);
    phrases.push(w);
    // Values that are prefixes / suffixes of one another.
    if (r.next() < 0.4) phrases.push(w + word(1, 5));
    if (r.next() < 0.3 && w.length > 2) phrases.push(w.slice(1));
  }
  const secrets: string[] = [];
  let text = "";
  for (let n = r.int(60); n > 0; n--) {
    const roll = r.next();
    if (roll < 0.15) {
      const p = r.pick(phrases);
      text += p;
      secrets.push(p);
    } else if (roll < 0.25) {
      const body = word(8, 20);
      text += `${r.pick(["glpat-", "glrt-", "glcbt-", "_gitlab_session=", "mytok_"])}${body}`;
      secrets.push(body);
    } else if (roll < 0.32) {
      const value = word(8, 20);
      text += `${r.pick(["?", "&"])}${r.pick(["private_token", "X-Amz-Signature", "rss_token"])}=${value}`;
      secrets.push(value);
    } else {
      for (let k = r.int(8); k >= 0; k--) text += r.pick(FILLER);
    }
  }
  return {
    r,
    text: enc(text),
    secrets,
    opts: { phrases, tokenPrefixes: ["mytok_"] } satisfies MaskerOptions,
  };
}

/** Random cut points; `charSafe` keeps them off UTF-8 continuation bytes. */
function randomChunks(r: ReturnType<typeof prng>, b: Uint8Array, charSafe: boolean): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  while (at < b.length) {
    let end = Math.min(b.length, at + (r.next() < 0.3 ? 1 : 1 + r.int(12)));
    if (charSafe) while (end < b.length && (b[end]! & 0xc0) === 0x80) end++;
    chunks.push(b.subarray(at, end));
    at = end;
  }
  return chunks;
}

describe("property: masking does not depend on write boundaries and leaks no secret", () => {
  for (let seed = 1; seed <= 300; seed++) {
    test(`seed ${seed}`, () => {
      const { r, text, secrets, opts } = randomCase(seed);
      const whole = maskWhole(text, opts);
      const wholeText = dec(whole);
      for (const s of secrets) expect(wholeText).not.toContain(s);

      for (let k = 0; k < 4; k++) {
        const charSafe = k % 2 === 0;
        const outs = stream(randomChunks(r, text, charSafe), opts);
        expect(dec(joined(outs))).toBe(wholeText);
        // Masking never cuts a character: whole characters in, whole characters out.
        if (charSafe) for (const o of outs) expect(isUtf8(o)).toBe(true);
      }
      const byteByByte = stream(
        [...text].map((b) => new Uint8Array([b])),
        opts,
      );
      expect(dec(joined(byteByByte))).toBe(wholeText);
    });
  }
});
