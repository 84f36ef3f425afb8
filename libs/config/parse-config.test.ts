import { describe, expect, test } from "bun:test";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "./config-error.ts";
import { loadConfig, parseConfig } from "./parse-config.ts";

const SOURCE = "config.toml";
const parse = (text: string) => parseConfig(text, { source: SOURCE, hostname: "test-host" });
const runner = (extra = "", name = "r1") =>
  `[[runners]]\nname = "${name}"\nurl = "https://gitlab.example.com"\ntoken = "glrt-abcdefghijklmnop"\nexecutor = "shell"\n${extra}\n`;

/** The ConfigError lines a config produces (fails the test if it parses). */
function problemsOf(text: string): readonly string[] {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError, but the config parsed");
}

describe("GitLab Runner's defaults", () => {
  const { config } = parse(runner());
  const r = config.runners[0]!;
  test.each([
    ["concurrent", config.concurrent, 1],
    ["check_interval", config.check_interval, 3],
    ["check_interval_ms", config.check_interval_ms, 3000],
    ["shutdown_timeout", config.shutdown_timeout, 30],
    ["connection_max_age", config.connection_max_age, "15m"],
    ["connection_max_age_ms", config.connection_max_age_ms, 900_000],
    ["log_level (CLI decides)", config.log_level, undefined],
    ["log_format (CLI decides)", config.log_format, undefined],
    ["session_server", config.session_server, undefined],
    ["limit", r.limit, 0],
    ["request_concurrency", r.request_concurrency, 1],
    ["output_limit (KiB)", r.output_limit, 4096],
    ["unhealthy_requests_limit", r.unhealthy_requests_limit, 3],
    ["unhealthy_interval", r.unhealthy_interval, "60m"],
    ["unhealthy_interval_ms", r.unhealthy_interval_ms, 3_600_000],
    ["job_status_final_update_retry_limit", r.job_status_final_update_retry_limit, 10],
    ["strict_check_interval", r.strict_check_interval, false],
    ["debug_trace_disabled", r.debug_trace_disabled, false],
    ["builds_dir", r.builds_dir, undefined],
    ["cache_dir", r.cache_dir, undefined],
    ["shell (shell executor)", r.shell, "bash"],
    ["custom_build_dir (shell executor)", r.custom_build_dir.enabled, false],
    ["token_expires_at", r.token_expires_at, undefined],
    ["mesh.nats_url (in-process bus)", config.mesh.nats_url, undefined],
    ["mesh.name (hostname)", config.mesh.name, "test-host"],
    ["mesh.worker_slots (= concurrent)", config.mesh.worker_slots, 1],
    ["mesh.heartbeat_interval_ms", config.mesh.heartbeat_interval_ms, 1000],
    ["mesh.worker_lost_after_ms", config.mesh.worker_lost_after_ms, 5000],
    ["mesh.lease_ttl_ms", config.mesh.lease_ttl_ms, 15_000],
    ["mesh.dispatch_timeout_ms", config.mesh.dispatch_timeout_ms, 60_000],
    ["mesh.pending_keepalive_interval_ms", config.mesh.pending_keepalive_interval_ms, 10_000],
    ["mesh.builds_dir", config.mesh.builds_dir, undefined],
    ["mesh.data_dir", config.mesh.data_dir, undefined],
  ])("%s", (_name, actual, expected) => {
    expect(actual as unknown).toEqual(expected);
  });

  test("mesh.worker_executors defaults to the shell executor", () => {
    expect(config.mesh.worker_executors).toEqual(["shell"]);
  });

  test.each([
    ["check_interval = 0", "check_interval", 3],
    ["check_interval = -5", "check_interval", 3],
    ["check_interval = 10", "check_interval", 10],
    ["shutdown_timeout = 0", "shutdown_timeout", 30],
    ["shutdown_timeout = -1", "shutdown_timeout", 30],
  ] as const)("%s gives %s = %p", (line, key, value) => {
    expect(parse(`${line}\n${runner()}`).config[key]).toBe(value);
  });

  test.each([
    ["request_concurrency = 0", "request_concurrency", 1],
    ["request_concurrency = -3", "request_concurrency", 1],
    ["request_concurrency = 4", "request_concurrency", 4],
    ["unhealthy_requests_limit = 0", "unhealthy_requests_limit", 3],
    ["output_limit = 0", "output_limit", 4096],
    ["output_limit = 16384", "output_limit", 16384],
    ["job_status_final_update_retry_limit = 0", "job_status_final_update_retry_limit", 10],
    ['unhealthy_interval = "0s"', "unhealthy_interval_ms", 0],
    ["unhealthy_interval = 3_000_000_000", "unhealthy_interval_ms", 3000],
  ] as const)("runner %s gives %s = %p", (line, key, value) => {
    expect(parse(runner(line)).config.runners[0]![key]).toBe(value);
  });

  test.each([
    ["shell", "bash", false],
    ["docker", "bash", true],
    ["docker-windows", "pwsh", true],
    ["kubernetes", "bash", true],
    ["docker-autoscaler", "bash", true],
    ["instance", "bash", true],
    ["ssh", "bash", false],
  ])("executor %s: shell %s, custom_build_dir %p", (executor, shell, customBuildDir) => {
    const text = `[[runners]]\nurl = "https://g.example"\ntoken = "t"\nexecutor = "${executor}"\nshell = ""\n`;
    const r = parse(text).config.runners[0]!;
    expect(r.shell as string).toBe(shell);
    expect(r.custom_build_dir.enabled).toBe(customBuildDir);
  });

  test("mesh.worker_slots follows concurrent", () => {
    expect(parse(`concurrent = 7\n${runner()}`).config.mesh.worker_slots).toBe(7);
  });

  test("url loses trailing slashes and /ci as GitLab Runner's fixCIURL does, with 18.7's warning", () => {
    const { config, warnings } = parse(
      runner().replace("https://gitlab.example.com", "https://gitlab.example.com/ci/"),
    );
    expect(config.runners[0]!.url).toBe("https://gitlab.example.com");
    expect(warnings).toEqual([
      'config.toml: runner "r1" (runners[0]): [[runners]] url: the legacy "/ci" suffix is deprecated; runmesh drops it, as GitLab Runner does, and warns as GitLab Runner 18.7+ does: remove it from config.toml (Git submodules may fail to clone with authentication errors while it is there)',
    ]);
    expect(parse(runner().replace("gitlab.example.com", "gitlab.example.com/gitlab/")).warnings).toEqual([]);
  });

  test("Go's zero time in token_expires_at means no expiry; real dates stay dates", () => {
    const r = parse(
      runner("token_obtained_at = 2024-05-01T10:00:00Z\ntoken_expires_at = 0001-01-01T00:00:00Z"),
    ).config.runners[0]!;
    expect(r.token_expires_at).toBeUndefined();
    expect(r.token_obtained_at).toEqual(new Date("2024-05-01T10:00:00Z"));
    const s = parse(runner('token_expires_at = "2999-01-02T03:04:05Z"')).config.runners[0]!;
    expect(s.token_expires_at).toEqual(new Date("2999-01-02T03:04:05Z"));
  });

  test("pre_clone_script and post_clone_script (removed in 17.0) are ignored, with a warning", async () => {
    const { config, warnings } = parse(
      runner('pre_clone_script = "echo pre"\npost_clone_script = "echo post"'),
    );
    const r = config.runners[0]!;
    expect(r.pre_get_sources_script).toBeUndefined();
    expect(r.post_get_sources_script).toBeUndefined();
    // Nothing of them reaches a worker, so no job can run them.
    const { workerRunnerSettings } = await import("./worker-settings.ts");
    expect(JSON.stringify(workerRunnerSettings(r))).not.toContain("echo ");
    expect(warnings).toEqual([
      'config.toml: runner "r1" (runners[0]): [[runners]] pre_clone_script: removed in GitLab Runner 17.0, which ignores it: this script does not run; rename the key to pre_get_sources_script',
      'config.toml: runner "r1" (runners[0]): [[runners]] post_clone_script: removed in GitLab Runner 17.0, which ignores it: this script does not run; rename the key to post_get_sources_script',
    ]);
    const renamed = parse(runner('pre_get_sources_script = "echo pre"')).config.runners[0]!;
    expect(renamed.pre_get_sources_script).toBe("echo pre");
  });
});

describe("every section of the reference (seed examples)", async () => {
  const text = await Bun.file(join(import.meta.dir, "fixtures/seed-examples.toml")).text();
  const { config, warnings } = parseConfig(text, { source: "seed-examples.toml", hostname: "h" });
  const byName = (name: string) => config.runners.find((r) => r.name === name)!;

  test("parses with one warning: the ssh entry's legacy /ci url", () => {
    expect(warnings).toEqual([
      'seed-examples.toml: runner "ssh" (runners[8]): [[runners]] url: the legacy "/ci" suffix is deprecated; runmesh drops it, as GitLab Runner does, and warns as GitLab Runner 18.7+ does: remove it from config.toml (Git submodules may fail to clone with authentication errors while it is there)',
    ]);
    expect(config.runners.map((r) => r.executor)).toEqual([
      "docker",
      "parallels",
      "virtualbox",
      "docker+machine",
      "docker-autoscaler",
      "instance",
      "kubernetes",
      "custom",
      "ssh",
    ]);
  });

  test("global section and [session_server]", () => {
    expect(config.concurrent).toBe(100);
    expect(config.log_level).toBe("warning");
    expect(config.listen_address).toBe("127.0.0.1:9252");
    expect(config.sentry_dsn).toBe("https://public@sentry.example.com/1");
    expect(config.session_server).toEqual({
      listen_address: "[::]:8093",
      advertise_address: "runner-host-name.tld:8093",
      session_timeout: 1800,
    });
  });

  test("[[runners]] keys, feature flags and custom_build_dir", () => {
    const r = byName("ruby-3.3-docker");
    expect(r.url).toBe("https://CI");
    expect(r.builds_dir).toBeUndefined(); // builds_dir = "" is unset in Go
    expect(r.shell).toBe("bash");
    expect(r.environment).toEqual(["ENV=value", "LC_ALL=en_US.UTF-8"]);
    expect(r.clone_url).toBe("http://gitlab.example.local");
    expect(r.unhealthy_requests_limit).toBe(5);
    expect(r.unhealthy_interval_ms).toBe(5_400_000);
    expect(r.feature_flags).toEqual({ FF_NETWORK_PER_BUILD: true, FF_TIMESTAMPS: false });
    expect(r.custom_build_dir).toEqual({ enabled: true });
  });

  test("[runners.docker] with services, ulimit and quoted sysctls keys", () => {
    const d = byName("ruby-3.3-docker").docker!;
    expect(d.image).toBe("ruby:3.3");
    expect(d.memory).toBe("128m");
    expect(d.host).toBeUndefined();
    expect(d.shm_size).toBe(300000);
    expect(d.services_limit).toBe(5);
    expect(d.pull_policy).toEqual(["always"]);
    expect(d.wait_for_services_timeout).toBe(30);
    expect(d.ulimit).toEqual({ rtprio: "99" });
    expect(d.sysctls).toEqual({ "net.ipv4.ip_forward": "1" });
    expect(d.services).toHaveLength(3);
    expect(d.services![0]).toEqual({
      name: "registry.example.com/svc1",
      alias: "svc1",
      entrypoint: ["entrypoint.sh"],
      command: ["executable", "param1", "param2"],
      environment: ["ENV1=value1", "ENV2=value2"],
    });
  });

  test("[runners.cache] with s3, gcs and azure", () => {
    const s3 = byName("ruby-3.3-docker").cache!;
    expect(s3.Type).toBe("s3");
    expect(s3.s3?.BucketLocation).toBe("eu-west-1");
    expect(s3.s3?.AccessKey).toBe("AWS_S3_ACCESS_KEY");
    expect(s3.s3?.DualStack).toBe(true);
    expect(byName("custom").cache?.gcs?.CredentialsFile).toBe("/etc/gitlab-runner/service-account.json");
    expect(byName("custom").cache?.Shared).toBe(true);
    expect(byName("ssh").cache?.azure?.ContainerName).toBe("runners-cache");
  });

  test("[runners.ssh], [runners.parallels] and [runners.virtualbox]", () => {
    expect(byName("parallels").parallels?.base_name).toBe("my-parallels-image");
    expect(byName("parallels").ssh).toMatchObject({ host: "my-production-server", port: "22", user: "root" });
    expect(byName("parallels").ssh?.disable_strict_host_key_checking).toBe(false);
    expect(byName("virtualbox").virtualbox?.start_type).toBe("headless");
    expect(byName("virtualbox").ssh?.port).toBe("22");
  });

  test("[runners.machine] keeps GitLab's CamelCase keys", () => {
    const m = byName("docker-machine").machine!;
    expect(m.MachineName).toBe("auto-scale-%s");
    expect(m.MachineOptions).toEqual(["google-project=GOOGLE-PROJECT-ID", "google-zone=GOOGLE-ZONE"]);
    expect(m.autoscaling?.[0]).toMatchObject({ IdleCount: 50, IdleScaleFactor: 1.5, Timezone: "UTC" });
    expect(byName("docker-machine").referees?.metrics?.query_interval).toBe(10);
  });

  test("[runners.autoscaler] with plugin_config, connector_config, throttle, state storage and policies", () => {
    const a = byName("autoscaler").autoscaler!;
    expect(a.plugin).toBe("fleeting-plugin-aws");
    expect(a.plugin_config).toEqual({
      name: "my-docker-asg",
      credentials_file: "/home/user/.aws/credentials",
      nested: { anything: ["goes", 1] },
    });
    expect(a.connector_config).toMatchObject({ protocol: "ssh", keepalive: "30s", use_external_addr: true });
    expect(a.scale_throttle).toEqual({ limit: 10, burst: 20 });
    expect(a.state_storage?.keep_instance_with_acquisitions).toBe(true);
    expect(a.policy).toEqual([
      { idle_count: 0, idle_time: "0s", periods: ["* * * * *"], scale_factor: 0, scale_factor_limit: 0 },
      {
        idle_count: 1,
        idle_time: "30m0s",
        periods: ["* 8-15 * * mon-fri"],
        timezone: "Europe/Berlin",
        scale_factor: 1.5,
        scale_factor_limit: 5,
      },
    ]);
    const v = byName("instance").autoscaler!;
    expect(v.vm_isolation?.enabled).toBe(true);
    expect(v.update_interval).toBe("1m");
    expect(byName("instance").instance?.allowed_images).toEqual(["macos-14-*"]);
  });

  test("[runners.kubernetes] typed keys and pass-through affinity", () => {
    const k = byName("kubernetes").kubernetes!;
    expect(k.host).toBe("https://45.67.34.123:4892");
    expect(k.node_selector).toEqual({ gitlab: "true" });
    expect(k.pull_policy).toEqual(["if-not-present"]);
    expect(k.poll_interval).toBe(3);
    expect(k.poll_timeout).toBe(180);
    expect(k.pod_security_context?.supplemental_groups).toEqual([1, 2]);
    expect(k.build_container_security_context?.capabilities?.drop).toEqual(["ALL"]);
    expect(k.volumes?.host_path?.[0]?.host_path).toBe("/path/on/host");
    expect(k.affinity).toEqual({
      node_affinity: { preferred_during_scheduling_ignored_during_execution: [{ weight: 100 }] },
    });
    expect(k.pod_spec?.[0]?.patch_type).toBe("merge");
  });

  test("[runners.custom] timeouts default to GitLab's", () => {
    expect(byName("custom").custom).toMatchObject({
      run_exec: "/opt/driver/run.sh",
      config_exec_timeout: 3600,
      prepare_exec_timeout: 3600,
      cleanup_exec_timeout: 120,
      graceful_kill_timeout: 600,
      force_kill_timeout: 600,
    });
  });

  test("[mesh]", () => {
    expect(config.mesh).toMatchObject({
      nats_url: "nats://127.0.0.1:4222",
      nats_user: "runmesh",
      name: "mesh-node-1",
      worker_slots: 8,
      worker_executors: ["shell", "docker"],
      heartbeat_interval: "500ms",
      heartbeat_interval_ms: 500,
    });
  });

  test("a parsed runner entry parses again to the same value", async () => {
    const { runnerEntrySchema } = await import("./runner-schema.ts");
    for (const { runnerKey: _, ...r } of config.runners) expect(runnerEntrySchema.parse(r)).toEqual(r);
  });
});

describe("the demo fixture", () => {
  test("is a valid config with one shell runner", async () => {
    const { config, warnings } = await loadConfig(join(import.meta.dir, "fixtures/demo.toml"));
    expect(warnings).toEqual([]);
    expect(config.concurrent).toBe(4);
    expect(config.runners).toHaveLength(1);
    expect(config.runners[0]).toMatchObject({
      name: "demo-shell",
      url: "http://127.0.0.1:8088",
      token: "glrt-demo-runner-token-0001",
      executor: "shell",
      limit: 2,
    });
    expect(config.runners[0]!.builds_dir).toStartWith("/tmp/runmesh-demo/builds");
  });
});

describe("unknown keys are warnings that name the runner", () => {
  test("a misspelt key in a runner section, with a suggestion", () => {
    const { warnings } = parse(
      runner('[runners.docker]\nimage = "alpine"\nmemroy = "1g"', "docker-1").replace(
        'executor = "shell"',
        'executor = "docker"',
      ),
    );
    expect(warnings).toEqual([
      'config.toml: runner "docker-1" (runners[0]): [runners.docker] memroy: unknown key, ignored; did you mean "memory"?',
    ]);
  });

  test("unknown keys at every level, including [mesh] and nested arrays of tables", () => {
    const { warnings } = parse(
      `colour = "blue"\n${runner("limitt = 3\n[[runners.autoscaler.policy]]\nidle_cnt = 1", "as")}[mesh]\nnats_ulr = "x"\n`,
    );
    expect(warnings).toEqual([
      "config.toml: colour: unknown key, ignored",
      'config.toml: runner "as" (runners[0]): [[runners]] limitt: unknown key, ignored; did you mean "limit"?',
      'config.toml: runner "as" (runners[0]): [runners.autoscaler.policy[0]] idle_cnt: unknown key, ignored; did you mean "idle_count"?',
      'config.toml: [mesh] nats_ulr: unknown key, ignored; did you mean "nats_url"?',
    ]);
  });

  test("pass-through tables (plugin_config, affinity) never warn", () => {
    const { warnings } = parse(runner("[runners.autoscaler.plugin_config]\nwhatever = 1\ndeep = { x = 1 }"));
    expect(warnings).toEqual([]);
  });

  test("a runner without a name is named by its index", () => {
    const { warnings } = parse(runner("bogus = 1").replace('name = "r1"\n', ""));
    expect(warnings[0]).toStartWith("config.toml: runner with no name (runners[0]): [[runners]] bogus:");
  });
});

describe("errors: one line per problem, all together", () => {
  test("the example from CONVENTIONS.md", () => {
    const text = runner('[runners.docker]\nmemory = "lots"', "docker-1").replace(
      'executor = "shell"',
      'executor = "docker"',
    );
    expect(problemsOf(text)).toEqual([
      'config.toml: runner "docker-1" (runners[0]): [runners.docker] memory: expected a size like "512m", got "lots"',
    ]);
  });

  test("a size given as a number still asks for a size", () => {
    const text = runner("[runners.docker]\nmemory = 512", "docker-1").replace(
      'executor = "shell"',
      'executor = "docker"',
    );
    expect(problemsOf(text)).toEqual([
      'config.toml: runner "docker-1" (runners[0]): [runners.docker] memory: expected a size like "512m", got 512',
    ]);
  });

  test("wrong types name key, expectation and value", () => {
    expect(
      problemsOf(
        `concurrent = "4"\ncheck_interval = 2.5\n${runner('limit = "2"\nenvironment = ["A=1", 2]')}`,
      ),
    ).toEqual([
      'config.toml: concurrent: expected an integer, got "4"',
      "config.toml: check_interval: expected an integer, got 2.5",
      'config.toml: runner "r1" (runners[0]): [[runners]] limit: expected an integer, got "2"',
      'config.toml: runner "r1" (runners[0]): [[runners]] environment[1]: expected a string, got 2',
    ]);
  });

  test("concurrent = 0 is fatal and says why", () => {
    const [problem] = problemsOf(`concurrent = 0\n${runner()}`);
    expect(problem).toStartWith("config.toml: concurrent: expected an integer ≥ 1 (0 is forbidden:");
    expect(problem).toContain("GitLab Runner stops with a critical error");
    expect(problem).toEndWith("got 0");
  });

  test("an unknown executor is fatal and lists the valid ones", () => {
    const [problem] = problemsOf(runner().replace('executor = "shell"', 'executor = "dokcer"'));
    expect(problem).toBe(
      'config.toml: runner "r1" (runners[0]): [[runners]] executor: expected one of "shell", "ssh", "parallels", "virtualbox", "docker", "docker-windows", "docker+machine", "docker-autoscaler", "kubernetes", "custom", "instance" (did you mean "docker"?), got "dokcer"',
    );
  });

  test("a token, url or executor of the wrong type is still fatal", () => {
    const text = `[[runners]]\nname = "a"\nexecutor = 1\nurl = "https://g.example"\ntoken = 5\n`;
    expect(problemsOf(text)).toEqual([
      'config.toml: runner "a" (runners[0]): [[runners]] executor: expected an executor name (one of "shell", "ssh", "parallels", "virtualbox", "docker", "docker-windows", "docker+machine", "docker-autoscaler", "kubernetes", "custom", "instance"), got 1',
      'config.toml: runner "a" (runners[0]): [[runners]] token: expected the runner authentication token that registration wrote here, got 5',
    ]);
  });

  test("only http and https URLs", () => {
    expect(problemsOf(runner().replace("https://gitlab.example.com", "ftp://gitlab.example.com"))).toEqual([
      'config.toml: runner "r1" (runners[0]): [[runners]] url: expected an http:// or https:// URL of the GitLab instance, like "https://gitlab.example.com", got "ftp://gitlab.example.com"',
    ]);
  });

  test("a bad Go duration says why", () => {
    expect(problemsOf(runner('unhealthy_interval = "1h30min"\n[mesh]\nlease_ttl = "0s"'))).toEqual([
      'config.toml: runner "r1" (runners[0]): [[runners]] unhealthy_interval: expected a Go duration like "1h30m" (units: ns, us, ms, s, m, h), got "1h30min" (unknown unit "min")',
      'config.toml: [mesh] lease_ttl: expected a positive Go duration like "15s", got "0s"',
    ]);
  });

  test("malformed TOML gives file, line and column", () => {
    const problems = problemsOf(`concurrent = 1\n\n[[runners]]\nname = "x"\nlimit = 1\nlimit = 2\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("config.toml:6:");
    expect(problems[0]).toContain("malformed TOML");
    expect(problems[0]).toContain("line 6");
  });

  test('the reference\'s own first example is refused for log_format = "info"', () => {
    expect(
      problemsOf(`concurrent = 100\nlog_level = "warning"\nlog_format = "info"\ncheck_interval = 3\n`),
    ).toEqual(['config.toml: log_format: expected one of "runner", "text", "json", got "info"']);
  });

  test("log_level is read case-insensitively, as logrus.ParseLevel does; an unknown level is refused", () => {
    expect(parse('concurrent = 1\nlog_level = "WARNING"\n').config.log_level).toBe("warning");
    expect(problemsOf('concurrent = 1\nlog_level = "loud"\n')[0]).toContain("log_level: expected one of");
  });

  test("the custom executor requires run_exec", () => {
    expect(problemsOf(runner().replace('executor = "shell"', 'executor = "custom"'))).toEqual([
      'config.toml: runner "r1" (runners[0]): [runners.custom] run_exec: missing; expected the path of the executable that runs each job script (the custom executor requires run_exec)',
    ]);
  });

  test("errors carry no stack noise: the message is exactly the problem lines", () => {
    try {
      parse("concurrent = -1\n");
      throw new Error("should have failed");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).name).toBe("ConfigError");
      expect((error as ConfigError).message).toBe((error as ConfigError).problems.join("\n"));
    }
  });

  test("an unreadable file is a ConfigError naming the path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "runmesh-config-"));
    const missing = join(dir, "nope.toml");
    await expect(loadConfig(missing)).rejects.toThrow(ConfigError);
    await expect(loadConfig(missing)).rejects.toThrow(`${missing}: the file does not exist`);
    await expect(loadConfig(dir)).rejects.toThrow("it is a directory");
    const ok = join(dir, "config.toml");
    await writeFile(ok, runner());
    expect((await loadConfig(ok)).config.runners).toHaveLength(1);
  });
});

describe("warnings for things GitLab Runner accepts but that will not work", () => {
  test.each([
    ["docker", "needs a [runners.docker] table"],
    ["docker-autoscaler", "needs a [runners.autoscaler] table"],
    ["ssh", "needs a [runners.ssh] table"],
  ])("executor %s without its section", (executor, text) => {
    const { warnings } = parse(runner().replace('executor = "shell"', `executor = "${executor}"`));
    expect(warnings.some((w) => w.includes(text) && w.includes('runner "r1" (runners[0])'))).toBe(true);
  });

  test("no runners at all", () => {
    expect(parse("concurrent = 2\n").warnings).toEqual([
      "config.toml: no [[runners]] entries: there is nothing to ask GitLab for jobs",
    ]);
  });

  test("an expired token", () => {
    const { warnings } = parse(runner("token_expires_at = 2001-01-01T00:00:00Z"));
    expect(warnings[0]).toContain(
      "[[runners]] token_expires_at: the token expired at 2001-01-01T00:00:00.000Z",
    );
  });
});
