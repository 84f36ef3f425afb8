// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the Go expansion syntax under test
// config.toml files GitLab Runner 19 loads, read the way it reads them (issue 7): skipped
// entries, $VAR in url and token, case-insensitive keys, a free cache Type.
import { describe, expect, test } from "bun:test";
import { ConfigError } from "./config-error.ts";
import { parseConfig } from "./parse-config.ts";

const SOURCE = "config.toml";
const parse = (text: string, env: Record<string, string> = {}) =>
  parseConfig(text, { source: SOURCE, hostname: "h", env });
const entry = (name: string, body: string) => `[[runners]]\nname = "${name}"\n${body}\n`;
const URL_ = 'url = "https://gitlab.example.com"';
const TOKEN = 'token = "glrt-secret-token-value"';
const SHELL = 'executor = "shell"';

function problemsOf(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parse(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError, but the config parsed");
}

describe("an entry without token, url or executor is skipped with a warning, as GitLab Runner does", () => {
  test.each([
    ["no token", `${URL_}\n${SHELL}`, "token"],
    ["an empty token", `${URL_}\ntoken = ""\n${SHELL}`, "token"],
    ["a whitespace token (HasToken trims)", `${URL_}\ntoken = "  "\n${SHELL}`, "token"],
    ["no url", `${TOKEN}\n${SHELL}`, "url"],
    ["an empty url", `url = ""\n${TOKEN}\n${SHELL}`, "url"],
    ["no executor", `${URL_}\n${TOKEN}`, "executor"],
    ["an empty executor", `${URL_}\n${TOKEN}\nexecutor = ""`, "executor"],
    ["nothing at all", "", "token, url, executor"],
  ])("%s: the file loads, the entry is skipped and named", (_, body, keys) => {
    const { config, warnings } = parse(entry("broken", body) + entry("ok", `${URL_}\n${TOKEN}\n${SHELL}`));
    expect(config.runners.map((r) => r.name)).toEqual(["ok"]);
    expect(warnings[0]).toStartWith(
      `config.toml: runner "broken" (runners[0]): [[runners]] ${keys}: missing or empty; entry skipped, no jobs are requested for it`,
    );
    expect(warnings).toHaveLength(1);
  });

  test("the message says what each missing key should hold", () => {
    const { warnings } = parse(entry("e", ""));
    expect(warnings[0]).toContain(
      "(expected token: the runner authentication token that registration wrote; url: the GitLab instance URL; executor: an executor name)",
    );
  });

  test("when every entry is skipped, the file still loads and says nothing can be polled", () => {
    const { config, warnings } = parse(entry("a", SHELL));
    expect(config.runners).toEqual([]);
    expect(warnings).toContain(
      "config.toml: no [[runners]] entry can be polled: there is nothing to ask GitLab for jobs",
    );
  });

  test("a skipped entry's other keys are still checked (GitLab Runner decodes them too)", () => {
    expect(problemsOf(entry("a", `${SHELL}\nlimit = "two"`))).toEqual([
      'config.toml: runner "a" (runners[0]): [[runners]] limit: expected an integer, got "two"',
    ]);
  });

  test("a skipped custom entry without run_exec does not refuse the file", () => {
    const { config } = parse(entry("c", 'executor = "custom"\n[runners.custom]\nprepare_exec = "/p"'));
    expect(config.runners).toEqual([]);
  });

  test("the other entries keep the index the file gave them in messages", () => {
    const { warnings } = parse(entry("a", SHELL) + entry("b", `${URL_}\n${TOKEN}\n${SHELL}\nlimitt = 1`));
    expect(warnings).toContain(
      'config.toml: runner "b" (runners[1]): [[runners]] limitt: unknown key, ignored; did you mean "limit"?',
    );
  });
});

describe("$VAR and ${VAR} in url and token come from the environment (GitLab Runner 18.10+)", () => {
  const env = { RUNNER_TOKEN: "glrt-from-env-1234", GITLAB_HOST: "gitlab.example.com" };

  test("both forms, in url and token", () => {
    const { config, warnings } = parse(
      entry("e", 'url = "https://${GITLAB_HOST}/"\ntoken = "$RUNNER_TOKEN"\nexecutor = "shell"'),
      env,
    );
    expect(config.runners[0]!.url).toBe("https://gitlab.example.com");
    expect(config.runners[0]!.token).toBe("glrt-from-env-1234");
    expect(warnings).toEqual([]);
  });

  test("other keys are not expanded", () => {
    const { config } = parse(entry("e", `${URL_}\n${TOKEN}\n${SHELL}\nbuilds_dir = "$GITLAB_HOST/b"`), env);
    expect(config.runners[0]!.builds_dir).toBe("$GITLAB_HOST/b");
  });

  test("an unset variable warns, naming the key and the variable; an empty token then skips the entry", () => {
    const { config, warnings } = parse(entry("e", `${URL_}\ntoken = "\${MISSING_TOKEN}"\n${SHELL}`));
    expect(config.runners).toEqual([]);
    expect(warnings[0]).toBe(
      'config.toml: runner "e" (runners[0]): [[runners]] token: refers to $MISSING_TOKEN, which is not set in the environment, so it expands to "" (GitLab Runner expands $VAR and ${VAR} here the same way)',
    );
    expect(warnings[1]).toStartWith(
      'config.toml: runner "e" (runners[0]): [[runners]] token: missing or empty;',
    );
  });

  test("an expanded url is validated like a written one", () => {
    expect(problemsOf(entry("e", `url = "$GITLAB_HOST"\n${TOKEN}\n${SHELL}`), env)).toEqual([
      'config.toml: runner "e" (runners[0]): [[runners]] url: expected an http:// or https:// URL of the GitLab instance, like "https://gitlab.example.com", got "gitlab.example.com"',
    ]);
  });

  test("no message carries the token, written or expanded", () => {
    const text = entry("e", `url = "$GITLAB_HOST"\ntoken = "$RUNNER_TOKEN$UNSET"\n${SHELL}\nlimitt = 1`);
    const lines = [...problemsOf(text, env)];
    expect(lines.join("\n")).not.toContain("glrt-from-env");
  });
});

describe("keys match case-insensitively when none matches exactly (BurntSushi/toml)", () => {
  const base = `${URL_}\n${TOKEN}\n${SHELL}`;

  test('type = "s3" sets [runners.cache] Type, silently', () => {
    const { config, warnings } = parse(
      entry(
        "c",
        `${base}\n[runners.cache]\ntype = "s3"\nshared = true\n[runners.cache.S3]\nbucketname = "b"`,
      ),
    );
    const cache = config.runners[0]!.cache!;
    expect(cache.Type).toBe("s3");
    expect(cache.Shared).toBe(true);
    expect(cache.s3?.BucketName).toBe("b");
    expect(warnings).toEqual([]);
  });

  test("top-level, [[runners]] and executor tables too", () => {
    const { config } = parse(
      `Concurrent = 4\n[[runners]]\nName = "x"\nURL = "https://g.example"\nToken = "t"\nExecutor = "docker"\n[runners.Docker]\nImage = "alpine"`,
    );
    expect(config.concurrent).toBe(4);
    const r = config.runners[0]!;
    expect([r.name, r.url, r.token, r.executor, r.docker?.image]).toEqual([
      "x",
      "https://g.example",
      "t",
      "docker",
      "alpine",
    ]);
  });

  test("map keys stay as written (feature flags are data, not fields)", () => {
    const { config } = parse(entry("f", `${base}\n[runners.feature_flags]\nff_timestamps = true`));
    expect(config.runners[0]!.feature_flags).toEqual({ ff_timestamps: true });
  });

  test("a key no field matches is still unknown, without claiming GitLab Runner ignores it too", () => {
    const { warnings } = parse(entry("c", `${base}\n[runners.cache]\ntyp = "s3"`));
    expect(warnings).toEqual([
      'config.toml: runner "c" (runners[0]): [runners.cache] typ: unknown key, ignored; did you mean "Type"?',
    ]);
  });

  test("problems quote the key as the file wrote it", () => {
    expect(problemsOf(entry("c", `${base}\n[runners.CACHE]\nshared = "yes"`))).toEqual([
      'config.toml: runner "c" (runners[0]): [runners.CACHE] shared: expected true or false, got "yes"',
    ]);
  });

  test("two spellings of one key: the exact one wins, with a warning", () => {
    const { config, warnings } = parse(entry("c", `${base}\n[runners.cache]\ntype = "gcs"\nType = "s3"`));
    expect(config.runners[0]!.cache?.Type).toBe("s3");
    expect(warnings).toEqual([
      'config.toml: runner "c" (runners[0]): [runners.cache] Type: set twice, as "Type" and "type"; keys match case-insensitively, so GitLab Runner keeps either one at random and runmesh keeps "Type": remove the other',
    ]);
  });
});

describe("[runners.cache] Type is a free string", () => {
  const base = `${URL_}\n${TOKEN}\n${SHELL}`;

  test.each([["s3"], ["s3v2"], ["gcs"], ["gcsv2"], ["azure"]])("%p loads without a warning", (type) => {
    const { config, warnings } = parse(entry("c", `${base}\n[runners.cache]\nType = "${type}"`));
    expect(config.runners[0]!.cache?.Type).toBe(type);
    expect(warnings).toEqual([]);
  });

  test.each([
    ["local", ""],
    ["S3", ' (did you mean "s3"?)'],
  ])("%p loads: local-only cache, with a warning", (type, hint) => {
    const { config, warnings } = parse(entry("c", `${base}\n[runners.cache]\nType = "${type}"`));
    expect(config.runners[0]!.cache?.Type).toBe(type);
    expect(warnings).toEqual([
      `config.toml: runner "c" (runners[0]): [runners.cache] Type: "${type}" is not a cache type GitLab Runner has ("s3", "s3v2", "gcs", "gcsv2", "azure")${hint}; jobs keep only a local cache, and GitLab Runner logs "Could not create cache adapter" at each job`,
    ]);
  });

  test("an empty Type means no distributed cache, silently", () => {
    const { config, warnings } = parse(entry("c", `${base}\n[runners.cache]\nType = ""`));
    expect(config.runners[0]!.cache?.Type).toBeUndefined();
    expect(warnings).toEqual([]);
  });
});
