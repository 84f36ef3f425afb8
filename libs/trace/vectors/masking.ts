// GitLab Runner 19.4's job-log masking table tests, as data (commit: gitlab-runner-commit.ts).
// In every `input`, `|` separates writes, as in the Go tests (bytes.SplitSeq on '|'); `goTest`
// names the Go test and its case.

export interface SplitWriteVector {
  goTest: string;
  input: string;
  expected: string;
}

export interface PhraseVector extends SplitWriteVector {
  /** Masked values, through internal.Unique. */
  values: string[];
}

export interface TokenVector extends SplitWriteVector {
  /** Custom prefixes, added to DefaultTokenPrefixes(true), through internal.Unique, first 15. */
  prefixes: string[];
}

const MASKER = "common/buildlogger/internal/masker/masker_test.go TestMasking";

/** Masked variable values (masker.New). */
export const PHRASE_VECTORS: PhraseVector[] = [
  { input: "empty secrets have no affect", values: [""], expected: "empty secrets have no affect" },
  { input: "no escaping at all", values: [], expected: "no escaping at all" },
  { input: "secrets", values: ["secrets"], expected: "[MASKED]" },
  { input: "secret|s", values: ["secrets"], expected: "[MASKED]" },
  { input: "s|ecrets", values: ["secrets"], expected: "[MASKED]" },
  { input: "secretssecrets", values: ["secrets"], expected: "[MASKED][MASKED]" },
  { input: "ssecrets", values: ["secrets"], expected: "s[MASKED]" },
  { input: "s|secrets", values: ["secrets"], expected: "s[MASKED]" },
  { input: "at the start of the buffer", values: ["at"], expected: "[MASKED] the start of the buffer" },
  { input: "in the middle of the buffer", values: ["middle"], expected: "in the [MASKED] of the buffer" },
  { input: "at the end of the buffer", values: ["buffer"], expected: "at the end of the [MASKED]" },
  {
    input: "all values are masked",
    values: ["all", "values", "are", "masked"],
    expected: "[MASKED] [MASKED] [MASKED] [MASKED]",
  },
  {
    input: "prefixed and suffixed: xfoox ybary ffoo barr ffooo bbarr",
    values: ["foo", "bar"],
    expected: "prefixed and suffixed: x[MASKED]x y[MASKED]y f[MASKED] [MASKED]r f[MASKED]o b[MASKED]r",
  },
  {
    input: "prefix|ed, su|ffi|xed |and split|:| xfo|ox y|bary ffo|o ba|rr ffooo b|barr",
    values: ["foo", "bar"],
    expected: "prefixed, suffixed and split: x[MASKED]x y[MASKED]y f[MASKED] [MASKED]r f[MASKED]o b[MASKED]r",
  },
  {
    input: "sp|lit al|l val|ues ar|e |mask|ed",
    values: ["split", "all", "values", "are", "masked"],
    expected: "[MASKED] [MASKED] [MASKED] [MASKED] [MASKED]",
  },
  {
    input: "prefix_mask mask prefix_|mask prefix_ma|sk mas|k",
    values: ["mask", "prefix_mask"],
    expected: "[MASKED] [MASKED] [MASKED] [MASKED] [MASKED]",
  },
  {
    input: `large secret: ${"_".repeat(8000)}|${"_".repeat(8000)}`,
    values: ["_".repeat(8000 * 2)],
    expected: "large secret: [MASKED]",
  },
  {
    input: "overlap: this is the en| foobar",
    values: ["this is the end", "en foobar", "en"],
    expected: "overlap: this is the [MASKED]",
  },
].map((v) => ({ goTest: MASKER, ...v }));

const URL = "common/buildlogger/internal/urlsanitizer/urlsanitizer_test.go TestMasking";

/** Sensitive URL parameters (urlsanitizer.New). */
export const URL_PARAM_VECTORS: SplitWriteVector[] = [
  {
    input: "no escaping at all http://example.org/?test=foobar",
    expected: "no escaping at all http://example.org/?test=foobar",
  },
  {
    input:
      "multiple: &private_token=hello &?x-amz-security-token=hello &?x-amz-security-token=hello ?x-amz-security?x-amz-security-token=hello",
    expected:
      "multiple: &private_token=[MASKED] &?x-amz-security-token=[MASKED] &?x-amz-security-token=[MASKED] ?x-amz-security?x-amz-security-token=[MASKED]",
  },
  {
    input: "above known key size: http://example.org/?this-is-a-really-really-long-key-name=foobar",
    expected: "above known key size: http://example.org/?this-is-a-really-really-long-key-name=foobar",
  },
  {
    input: "http://example.com/?private_token=deadbeef sensitive URL at the start",
    expected: "http://example.com/?private_token=[MASKED] sensitive URL at the start",
  },
  {
    input: "a sensitive URL at the end http://example.com/?authenticity_token=deadbeef",
    expected: "a sensitive URL at the end http://example.com/?authenticity_token=[MASKED]",
  },
  {
    input: "a sensitive URL http://example.com/?rss_token=deadbeef in the middle",
    expected: "a sensitive URL http://example.com/?rss_token=[MASKED] in the middle",
  },
  {
    input: "a sensitive URL http://example.com/?X-AMZ-sigNATure=deadbeef with mixed case",
    expected: "a sensitive URL http://example.com/?X-AMZ-sigNATure=[MASKED] with mixed case",
  },
  {
    input: "a sensitive URL http://example.com/?param=second&x-amz-credential=deadbeef second param",
    expected: "a sensitive URL http://example.com/?param=second&x-amz-credential=[MASKED] second param",
  },
  {
    input: "a sensitive URL http://example.com/?rss_token=hide&x-amz-credential=deadbeef both params",
    expected: "a sensitive URL http://example.com/?rss_token=[MASKED]&x-amz-credential=[MASKED] both params",
  },
  {
    input:
      "a long sensitive URL http://example.com/?x-amz-credential=abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789",
    expected: "a long sensitive URL http://example.com/?x-amz-credential=[MASKED]",
  },
  {
    input: `a really long sensitive URL http://example.com/?x-amz-credential=${"0".repeat(8 * 1024)} that is still scrubbed`,
    expected:
      "a really long sensitive URL http://example.com/?x-amz-credential=[MASKED] that is still scrubbed",
  },
  {
    input: "spl|it sensit|ive UR|L http://example.com/?x-amz-cred|ential=abcdefghij|klmnopqrstuvwxyz01234567",
    expected: "split sensitive URL http://example.com/?x-amz-credential=[MASKED]",
  },
  {
    input: "newline: http://example.com/?x-amz-credential=abc\nhttp://example.com/?x-amz-credential=abc",
    expected:
      "newline: http://example.com/?x-amz-credential=[MASKED]\nhttp://example.com/?x-amz-credential=[MASKED]",
  },
  {
    input:
      "control character: http://example.com/?x-amz-credential=abc\bhttp://example.com/?x-amz-credential=abc",
    expected:
      "control character: http://example.com/?x-amz-credential=[MASKED]\bhttp://example.com/?x-amz-credential=[MASKED]",
  },
  {
    input: "rss_token=notmasked http://example.com/?rss_token=!@#$A&x-amz-credential=abc&test=test",
    expected:
      "rss_token=notmasked http://example.com/?rss_token=[MASKED]&x-amz-credential=[MASKED]&test=test",
  },
  {
    input: "query string with no value: http://example.com/?x-amz-credential=&private_token=gitlab",
    expected:
      "query string with no value: http://example.com/?x-amz-credential=[MASKED]&private_token=[MASKED]",
  },
  {
    input: "invalid URL with double &: http://example.com/?x-amz-credential=abc&&private_token=gitlab",
    expected:
      "invalid URL with double &: http://example.com/?x-amz-credential=[MASKED]&&private_token=[MASKED]",
  },
  {
    input: "invalid URL with double ?: http://example.com/?x-amz-credential=abc??private_token=gitlab",
    expected:
      "invalid URL with double ?: http://example.com/?x-amz-credential=[MASKED]??private_token=[MASKED]",
  },
  {
    input: "split on &: http://example.com/|&|x-amz-cre|dential=abc",
    expected: "split on &: http://example.com/&x-amz-credential=[MASKED]",
  },
  {
    input: "split on ?: http://example.com/|?|x-amz-cre|dential=abc",
    expected: "split on ?: http://example.com/?x-amz-credential=[MASKED]",
  },
  {
    input: "split after ?: http://example.com/|?||x-amz-cre|dential=abc",
    expected: "split after ?: http://example.com/?x-amz-credential=[MASKED]",
  },
  {
    input:
      "interweaved tokens: ?|one ?x-amz-credential=abc two=three ?|one=two &token &x-amz-credential=abc =token ?=",
    expected:
      "interweaved tokens: ?one ?x-amz-credential=[MASKED] two=three ?one=two &token &x-amz-credential=[MASKED] =token ?=",
  },
  { input: "terminated before mask: ?x", expected: "terminated before mask: ?x" },
  { input: "terminated before mask: ?x|-", expected: "terminated before mask: ?x-" },
  { input: "terminated before mask: ?x-|", expected: "terminated before mask: ?x-" },
  {
    input: "terminated before mask: ?x-amz-credential=",
    expected: "terminated before mask: ?x-amz-credential=[MASKED]",
  },
  {
    input: "terminated before mask: ?x-amz-credential=|",
    expected: "terminated before mask: ?x-amz-credential=[MASKED]",
  },
].map((v) => ({ goTest: URL, ...v }));

/** A line through the whole build logger (common/buildlogger/build_logger_test.go). */
export const BUILD_LOGGER_VECTORS: SplitWriteVector[] = [
  {
    goTest: "common/buildlogger/build_logger_test.go TestLogLineWithoutSecret",
    input: "Fatal: Get http://localhost/?id=123",
    expected: "Fatal: Get http://localhost/?id=123",
  },
  {
    goTest: "common/buildlogger/build_logger_test.go TestLogLineWithSecret",
    input: "Get http://localhost/?id=123&X-Amz-Signature=abcd1234&private_token=abcd1234",
    expected: "Get http://localhost/?id=123&X-Amz-Signature=[MASKED]&private_token=[MASKED]",
  },
];

const TOKEN = "common/buildlogger/internal/tokensanitizer/token_masker_test.go TestTokenMasking";

/** Tokens recognised by their prefix (tokensanitizer.New). */
export const TOKEN_PREFIX_VECTORS: TokenVector[] = [
  {
    goTest: `${TOKEN} "simple prefix masking"`,
    prefixes: [],
    input: "Lorem ipsum dolor sit amet, ex ea commodo glpat-imperdiet in voluptate velit esse",
    expected: "Lorem ipsum dolor sit amet, ex ea commodo glpat-[MASKED] in voluptate velit esse",
  },
  {
    goTest: `${TOKEN} "prefix at the end of the line"`,
    prefixes: [],
    input: "Lorem ipsum dolor sit amet, ex ea commodo in voluptate velit esseglpat-imperdiet",
    expected: "Lorem ipsum dolor sit amet, ex ea commodo in voluptate velit esseglpat-[MASKED]",
  },
  {
    goTest: `${TOKEN} "prefix at the beginning of the line"`,
    prefixes: [],
    input: "glpat-imperdiet Lorem ipsum dolor sit amet, ex ea commodo in voluptate velit esse",
    expected: "glpat-[MASKED] Lorem ipsum dolor sit amet, ex ea commodo in voluptate velit esse",
  },
  {
    goTest: `${TOKEN} "prefix inside of the line"`,
    prefixes: [],
    input: "esseglpat-imperdiet=_-. end Lorem ipsum dolor sit amet, ex ea commodo  in voluptate velit",
    expected: "esseglpat-[MASKED] end Lorem ipsum dolor sit amet, ex ea commodo  in voluptate velit",
  },
  {
    goTest: `${TOKEN} "two prefix concatenate"`,
    prefixes: [],
    input: "glpat-impglpat-erdiet Lorem ipsum dolor sit amet, ex ea commodo  in voluptate velit esse",
    expected: "glpat-[MASKED] Lorem ipsum dolor sit amet, ex ea commodo  in voluptate velit esse",
  },
  {
    goTest: `${TOKEN} "multiple packets pat masking"`,
    prefixes: [],
    input:
      "glpat|-imperdiet Lorem ipsum dolor sit amet, ex ea commodo gl|pat-imperdiet in voluptate velit esse",
    expected:
      "glpat-[MASKED] Lorem ipsum dolor sit amet, ex ea commodo glpat-[MASKED] in voluptate velit esse",
  },
  {
    goTest: `${TOKEN} "second multiple packets pat masking"`,
    prefixes: [],
    input: "glpat| -imperdiet Lorem ipsum dolor sit amet",
    expected: "glpat -imperdiet Lorem ipsum dolor sit amet",
  },
  {
    goTest: `${TOKEN} "long input"`,
    prefixes: [],
    input:
      "Lorglpat-ipsu dolor sit amglpat-t, consglpat-ctglpat-tur adipiscing glpat-lit, sglpat-d do glpat-iusmod tglpat-mpor incididunt ut laborglpat-=_ glpat-t dolorglpat-=_ magna aliqua.",
    expected:
      "Lorglpat-[MASKED] dolor sit amglpat-[MASKED], consglpat-[MASKED] adipiscing glpat-[MASKED], sglpat-[MASKED] do glpat-[MASKED] tglpat-[MASKED] incididunt ut laborglpat-[MASKED] glpat-[MASKED] dolorglpat-[MASKED] magna aliqua.",
  },
  {
    goTest: `${TOKEN} "multiple packets long input"`,
    prefixes: [],
    input:
      "Lorglpat-ipsu dolor sit amglp|at-t, consglpat-ctg|lpat-tur adipiscing glpat-lit, sglpat-|d do glpat-iusmod t|glpat-mpor incididunt ut |laborglpat-=_ glpat-t dolorglpat-=_ magna aliqua.",
    expected:
      "Lorglpat-[MASKED] dolor sit amglpat-[MASKED], consglpat-[MASKED] adipiscing glpat-[MASKED], sglpat-[MASKED] do glpat-[MASKED] tglpat-[MASKED] incididunt ut laborglpat-[MASKED] glpat-[MASKED] dolorglpat-[MASKED] magna aliqua.",
  },
  {
    goTest: `${TOKEN} "second long input"`,
    prefixes: [],
    input:
      "Lorglpat- ipsu dolor sit amglpat-t, consglpat-ctglpat-tur adipiscing glpat-lit, sglpat-d do glpat-iusmod tglpat-mpor incididunt ut laborglpat-=_ glpat-t dolorglpat-=_ magna aliqua.",
    expected:
      "Lorglpat- ipsu dolor sit amglpat-[MASKED], consglpat-[MASKED] adipiscing glpat-[MASKED], sglpat-[MASKED] do glpat-[MASKED] tglpat-[MASKED] incididunt ut laborglpat-[MASKED] glpat-[MASKED] dolorglpat-[MASKED] magna aliqua.",
  },
  {
    goTest: `${TOKEN} "custom prefix with default one at the beginning of the line"`,
    prefixes: ["token-"],
    input: "token-imperdiet Lorem ipsum dolor sit amet, ex ea commodo in voluptate velit esse",
    expected: "token-[MASKED] Lorem ipsum dolor sit amet, ex ea commodo in voluptate velit esse",
  },
  {
    goTest: `${TOKEN} "custom prefix with default one multiple packets long input"`,
    prefixes: ["tok-"],
    input:
      "Lortok-ipsu dolor sit amt|ok-t, cons-ctg|lpat-tur adipiscing tok-lit, stok-|d gltok-test do tok-iusmod t|tok-mpor incididunt ut |labortok-=_ tok-t dolortok-=_ magna aliqua. Tglpat-llus orci ac auctor auguglpat-eee mauris auguglpat-wEr_ lorem",
    expected:
      "Lortok-[MASKED] dolor sit amtok-[MASKED], cons-ctglpat-[MASKED] adipiscing tok-[MASKED], stok-[MASKED] gltok-[MASKED] do tok-[MASKED] ttok-[MASKED] incididunt ut labortok-[MASKED] tok-[MASKED] dolortok-[MASKED] magna aliqua. Tglpat-[MASKED] orci ac auctor auguglpat-[MASKED] mauris auguglpat-[MASKED] lorem",
  },
  {
    goTest: `${TOKEN} "ignored sixteenth prefix and more"`,
    prefixes: [
      "mask1-",
      "mask2-",
      "mask3-",
      "mask4-",
      "mask5-",
      "mask6-",
      "mask7-",
      "mask8-",
      "mask9-",
      "mask10-",
      "mask11-",
    ],
    input:
      "Lormask1-ipsu dolor sit amm|ask2-t, cons-ctg|lpat-tur adipiscing mask5-lit, smask11-|d do mask7-iusmod t|glpat-mpor incididunt ut |labormask10-=_ mask9-t",
    expected:
      "Lormask1-[MASKED] dolor sit ammask2-[MASKED], cons-ctglpat-[MASKED] adipiscing mask5-[MASKED], smask11-d do mask7-iusmod tglpat-[MASKED] incididunt ut labormask10-=_ mask9-t",
  },
];
