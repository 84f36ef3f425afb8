// Realistic config.toml files (fixtures/corpus), one per executor with old and new keys, each
// loaded with the verdict GitLab Runner 19.4 gives it: it refuses a file only when
// BurntSushi/toml cannot decode it into its structs (wrong types, bad durations) or Validate()
// fails; everything else loads, with warnings (legacy /ci url, empty token, OffPeak) and with
// entries it never polls. runmesh must load the same files, skip the same entries and refuse
// the same ones; its own warnings say what GitLab Runner silently ignores.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "./config-error.ts";
import { parseConfig } from "./parse-config.ts";

const DIR = join(import.meta.dir, "fixtures/corpus");

interface Verdict {
  file: string;
  env?: Record<string, string>;
  /** What GitLab Runner 19.4 does with it (from its source: common/config.go, commands/multi.go). */
  gitlabRunner: string;
  /** The entries runmesh polls, by name; absent when the file is refused. */
  polled?: string[];
  /** One fragment per warning, in order: each warning must contain its own. */
  warnings?: string[];
  /** One fragment per problem when the file is refused. */
  refused?: string[];
}

const FLEET_ENV = { CI_SERVER_URL: "https://gitlab.example.com", RUNNER_TOKEN: "glrt-fleet-from-env" };

const CORPUS: Verdict[] = [
  {
    file: "docker.toml",
    gitlabRunner: "loads; polls docker-builds; no warning",
    polled: ["docker-builds"],
    warnings: [],
  },
  {
    file: "docker-legacy.toml",
    gitlabRunner:
      "loads; warns about the /ci suffix (18.7+); ignores pre_clone_script (removed in 17.0) and the S3 keys under [runners.cache]; `type` sets Type",
    polled: ["old-docker"],
    warnings: [
      'runner "old-docker" (runners[0]): [[runners]] pre_clone_script: removed in GitLab Runner 17.0, which ignores it',
      "[runners.cache] ServerAddress: unknown key, ignored: it belongs in [runners.cache.s3]",
      "[runners.cache] AccessKey: unknown key, ignored: it belongs in [runners.cache.s3]",
      "[runners.cache] SecretKey: unknown key, ignored: it belongs in [runners.cache.s3]",
      "[runners.cache] BucketName: unknown key, ignored: it belongs in [runners.cache.s3]",
      "[runners.cache] Insecure: unknown key, ignored: it belongs in [runners.cache.s3]",
      'runner "old-docker" (runners[0]): [[runners]] url: the legacy "/ci" suffix is deprecated',
    ],
  },
  {
    file: "docker-machine.toml",
    gitlabRunner: "loads; logs that the OffPeak settings were removed in 14.0",
    polled: ["autoscale-aws"],
    warnings: ["[runners.machine] OffPeakPeriods: the OffPeak settings were removed in GitLab Runner 14.0"],
  },
  {
    file: "docker-autoscaler.toml",
    env: FLEET_ENV,
    gitlabRunner: "loads; url and token expanded from the environment",
    polled: ["fleet-aws"],
    warnings: [],
  },
  {
    file: "docker-autoscaler.toml",
    gitlabRunner:
      "loads; url and token expand to empty: warns about the empty token and never polls the entry",
    polled: [],
    warnings: [
      "[[runners]] url: refers to $CI_SERVER_URL, which is not set in the environment",
      "[[runners]] token: refers to $RUNNER_TOKEN, which is not set in the environment",
      'runner "fleet-aws" (runners[0]): [[runners]] token, url: missing or empty; entry skipped',
      "no [[runners]] entry can be polled",
    ],
  },
  {
    file: "docker-autoscaler-bad-duration.toml",
    gitlabRunner:
      'refuses: decoding configuration file fails on the time.Duration (time: unknown unit " minutes")',
    refused: ['[runners.autoscaler.policy[0]] idle_time: expected a Go duration like "1h30m"'],
  },
  {
    file: "kubernetes.toml",
    gitlabRunner: "loads; no warning",
    polled: ["k8s-runner-7d9f8"],
    warnings: [],
  },
  {
    file: "kubernetes-helm-template.toml",
    gitlabRunner: "loads; warns that the token is empty and the entry is skipped",
    polled: [],
    warnings: [
      "runner with no name (runners[0]): [[runners]] token, url, executor: missing or empty; entry skipped",
      "no [[runners]] entry can be polled",
    ],
  },
  {
    file: "custom.toml",
    gitlabRunner: "loads; warns that custom-unregistered has an empty token and skips it",
    polled: ["libvirt-driver"],
    warnings: [
      'runner "custom-unregistered" (runners[1]): [[runners]] token: missing or empty; entry skipped',
    ],
  },
  {
    file: "shell.toml",
    gitlabRunner:
      'loads; ignores post_clone_script (removed in 17.0); Type "local" gives a local-only cache and "Could not create cache adapter" at each job',
    polled: ["build-host", "build-host-2"],
    warnings: [
      "[[runners]] post_clone_script: removed in GitLab Runner 17.0, which ignores it",
      '[runners.cache] Type: "local" is not a cache type GitLab Runner has',
    ],
  },
  {
    file: "ssh.toml",
    gitlabRunner: "loads; no warning",
    polled: ["ssh-deploy"],
    warnings: [],
  },
  {
    file: "ssh-port-integer.toml",
    gitlabRunner: "refuses: incompatible types: TOML value has type int64; destination has type string",
    refused: ['runner "ssh-deploy" (runners[0]): [runners.ssh] port: expected a string like "22", got 22'],
  },
];

async function load(v: Verdict) {
  const text = await Bun.file(join(DIR, v.file)).text();
  return parseConfig(text, { source: v.file, hostname: "h", env: v.env ?? {} });
}

function expectFragments(lines: readonly string[], fragments: string[]) {
  expect(lines.length).toBe(fragments.length);
  fragments.forEach((fragment, i) => {
    expect(lines[i]).toContain(fragment);
  });
}

describe("the config corpus, with GitLab Runner's verdicts", () => {
  test("every corpus file has a verdict", () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith(".toml"));
    expect(new Set(CORPUS.map((v) => v.file))).toEqual(new Set(files));
  });

  for (const v of CORPUS) {
    const label = `${v.file}${v.env ? " (with its environment)" : ""}: GitLab Runner ${v.gitlabRunner}`;
    test(label, async () => {
      if (v.refused) {
        const error = await load(v).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ConfigError);
        expectFragments((error as ConfigError).problems, v.refused);
        return;
      }
      const { config, warnings } = await load(v);
      expect(config.runners.map((r) => r.name ?? "")).toEqual(v.polled ?? []);
      expectFragments(warnings, v.warnings ?? []);
      // No warning ever carries a token.
      for (const r of config.runners) expect(warnings.join("\n")).not.toContain(r.token);
    });
  }

  test("the fleet's url and token come from the environment", async () => {
    const { config } = await load(CORPUS.find((v) => v.env)!);
    expect(config.runners[0]?.url).toBe("https://gitlab.example.com");
    expect(config.runners[0]?.token).toBe("glrt-fleet-from-env");
  });

  test("the legacy docker file's lower-case `type` sets the cache Type", async () => {
    const { config } = await load(CORPUS.find((v) => v.file === "docker-legacy.toml")!);
    expect(config.runners[0]?.cache?.Type).toBe("s3");
    expect(config.runners[0]?.url).toBe("https://gitlab.example.com");
    expect(config.runners[0]?.pre_get_sources_script).toBeUndefined();
  });
});
