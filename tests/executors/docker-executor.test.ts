// The docker executor on a real engine: a private dockerd (tests/infra/dockerd.ts), images built
// locally (busybox from busybox-static, Debian with bash and git from debootstrap), whole jobs run
// through the stage machine. After each job the engine is listed: nothing of the job may remain.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerSchema } from "../../libs/config/executor-sections.ts";
import { dockerProvider } from "../../libs/executors/docker/provider.ts";
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, importBusybox, importDebian } from "../infra/docker-images.ts";
import { type DockerRunOptions, dockerPayload, runDockerJob, script } from "../infra/docker-job.ts";
import { type LocalRegistry, startRegistry } from "../infra/docker-registry.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";
import { createFixtureRepos, type FixtureRepos } from "../infra/git-fixtures.ts";
import { type GitHttpServer, startGitHttpServer } from "../infra/git-http-server.ts";

const dir = mkdtempSync(join(tmpdir(), "runmesh-docker-exec-"));
let d: Dockerd;
let registry: LocalRegistry;
let fx: FixtureRepos;
let git: GitHttpServer;
const TOKEN = "job-token-123";
const WORKER = "w-docker-test";

beforeAll(async () => {
  if (!engineAvailable) return;
  d = await startDockerd();
  await importBusybox(d);
  await importDebian(d);
  registry = await startRegistry();
  fx = await createFixtureRepos(join(dir, "fixtures"));
  git = await startGitHttpServer({ root: fx.root, token: TOKEN });
}, 180_000);

afterAll(async () => {
  await git?.stop();
  await registry?.stop();
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function dockerSettings(o: Record<string, unknown>) {
  return dockerSchema.parse({
    host: d.host,
    helper_image: DEBIAN_IMAGE,
    pull_policy: "if-not-present",
    ...o,
  });
}

function opts(docker: Record<string, unknown>, more: Partial<DockerRunOptions> = {}): DockerRunOptions {
  return {
    docker: { host: d.host, helper_image: DEBIAN_IMAGE, pull_policy: "if-not-present", ...docker },
    workerId: WORKER,
    workerBuildsDir: join(dir, "builds"),
    ...more,
  };
}

/** The engine's containers and volumes of this worker (cache volumes excluded). */
function leftovers(): string[] {
  const containers = d.cli([
    "ps",
    "-a",
    "--filter",
    `label=runmesh.worker=${WORKER}`,
    "--format",
    "{{.Names}}",
  ]);
  const volumes = d.cli([
    "volume",
    "ls",
    "--filter",
    `label=runmesh.worker=${WORKER}`,
    "--format",
    "{{.Name}}",
  ]);
  return [...containers.split("\n"), ...volumes.split("\n")].filter(Boolean);
}

const NO_ENGINE = "needs root and docker.io: scripts/setup.sh";

/** A test on the private engine; skipped, with the reason in its name, only where none can start. */
function onEngine(name: string, fn: () => Promise<void>) {
  test.skipIf(!engineAvailable)(`${name} [${NO_ENGINE}]`, fn);
}

describe("docker executor on a real engine", () => {
  onEngine("runs the script in the runner's image, with sh where the image has no bash", async () => {
    const { result, log } = await runDockerJob(
      dockerPayload({
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion
        steps: script(['echo "shell=${BASH_VERSION:-none} $(cat /etc/hostname)"', "ls /bin/busybox"]),
      }),
      opts({ image: BUSYBOX_IMAGE }),
    );
    expect(log).toContain("Using Docker executor with image local/busybox:latest ...");
    expect(log).toContain("shell=none ");
    expect(result).toEqual({ state: "success", message: "Job succeeded" });
    expect(leftovers()).toEqual([]);
  });

  onEngine("the job's image overrides the runner's; bash is used where the image has it", async () => {
    const { result, log } = await runDockerJob(
      dockerPayload({
        image: { name: DEBIAN_IMAGE },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion
        steps: script(['echo "bash=${BASH_VERSION:+yes}"', "git --version"]),
      }),
      opts({ image: BUSYBOX_IMAGE }),
    );
    expect(log).toContain(`Using Docker executor with image ${DEBIAN_IMAGE} ...`);
    expect(log).toContain("bash=yes");
    expect(log).toMatch(/git version 2\.\d+/);
    expect(result.state).toBe("success");
  });

  onEngine("sources fetched by the helper reach a busybox job through the builds volume", async () => {
    const { result, log } = await runDockerJob(
      dockerPayload({
        git_info: {
          repo_url: `http://gitlab-ci-token:${TOKEN}@127.0.0.1:${git.port}/group/project.git`,
          ref: "main",
          sha: fx.head,
          ref_type: "branch",
          refspecs: ["+refs/heads/main:refs/remotes/origin/main"],
          depth: 1,
        },
        variables: [{ key: "GIT_SUBMODULE_STRATEGY", value: "none" }],
        steps: script(["pwd", "cat build.sh", "test ! -e /usr/bin/git && echo no-git-in-job-image"]),
      }),
      opts({ image: BUSYBOX_IMAGE }),
    );
    expect(result.state).toBe("success");
    expect(log).toContain("/builds/group/project\n");
    expect(log).toContain("echo hello");
    expect(log).toContain("no-git-in-job-image");
  });

  onEngine("a service answers on localhost and by its aliases, after the health wait", async () => {
    const { result, log } = await runDockerJob(
      dockerPayload({
        services: [
          {
            name: BUSYBOX_IMAGE,
            alias: "web,www",
            entrypoint: ["sh", "-c"],
            command: [
              'mkdir -p /srv && echo "hello from $GREETING" > /srv/index.html && exec httpd -f -p 8080 -h /srv',
            ],
            variables: [{ key: "GREETING", value: "the service" }],
            ports: [{ number: 8080, protocol: "tcp", name: "http" }],
          },
        ],
        steps: script([
          "wget -qO- http://web:8080/",
          "wget -qO- http://www:8080/",
          "wget -qO- http://127.0.0.1:8080/",
          "hostname",
        ]),
      }),
      opts({ image: BUSYBOX_IMAGE, hostname: "job-host" }),
    );
    expect(log).toContain(`Starting service ${BUSYBOX_IMAGE} ...`);
    expect(log.match(/hello from the service/g)?.length).toBe(3);
    expect(log).toContain("job-host");
    expect(log).not.toContain("probably didn't start properly");
    expect(result.state).toBe("success");
    expect(leftovers()).toEqual([]);
  });

  onEngine("a service that never listens is a warning after wait_for_services_timeout", async () => {
    const { result, log } = await runDockerJob(
      dockerPayload({
        services: [
          { name: BUSYBOX_IMAGE, alias: "dead", command: ["sleep", "60"], ports: [{ number: 9999 }] },
        ],
        steps: script(["echo still-ran"]),
      }),
      opts({ image: BUSYBOX_IMAGE, wait_for_services_timeout: 1 }),
    );
    expect(log).toContain(`*** WARNING: Service ${BUSYBOX_IMAGE} probably didn't start properly.`);
    expect(log).toContain("still-ran");
    expect(result.state).toBe("success");
    expect(leftovers()).toEqual([]);
  });

  onEngine("an image outside allowed_images is refused with GitLab Runner's message", async () => {
    const { result, log } = await runDockerJob(
      dockerPayload({ image: { name: "evil/miner:1" }, steps: script(["echo never"]) }),
      opts({ image: BUSYBOX_IMAGE, allowed_images: ["local/*", "debian:*"] }),
    );
    expect(log).toContain("ERROR: The evil/miner:1 is not present on list of allowed images");
    expect(log).toContain("- local/*\x1b[0;m\n\x1b[0K- debian:*");
    expect(log).toContain("Please check runner's configuration");
    expect(log).not.toContain("never\n");
    expect(result.state).toBe("failed");
    expect(result.failureReason).toBe("runner_configuration_error");
    expect(leftovers()).toEqual([]);
  });

  onEngine("allowed_services and services_limit refuse a job before any container starts", async () => {
    const svc = (name: string) => ({ name, alias: "", command: ["sleep", "60"] });
    const refused = await runDockerJob(
      dockerPayload({ services: [svc("evil/db:1")], steps: script(["echo never"]) }),
      opts({ image: BUSYBOX_IMAGE, allowed_services: ["local/*"] }),
    );
    expect(refused.log).toContain("ERROR: The evil/db:1 is not present on list of allowed services");
    expect(refused.result.failureReason).toBe("runner_configuration_error");
    const tooMany = await runDockerJob(
      dockerPayload({ services: [svc(BUSYBOX_IMAGE), svc(BUSYBOX_IMAGE)], steps: script(["echo never"]) }),
      opts({ image: BUSYBOX_IMAGE, services_limit: 1 }),
    );
    expect(tooMany.log).toContain("the job uses 2 services, more than [runners.docker] services_limit = 1");
    expect(tooMany.result.failureReason).toBe("runner_configuration_error");
    expect(leftovers()).toEqual([]);
  });

  onEngine("without helper_image, a missing default helper says how to build it", async () => {
    const { result, log } = await runDockerJob(
      dockerPayload({ steps: script(["echo never"]) }),
      opts({ image: BUSYBOX_IMAGE, helper_image: "" }),
    );
    expect(log).toContain("build the helper image with scripts/helper-image.sh");
    expect(result.failureReason).toBe("image_pull_failure");
    expect(leftovers()).toEqual([]);
  });

  onEngine("exit codes: the script's own, as a script failure", async () => {
    const { result } = await runDockerJob(
      dockerPayload({ steps: script(["echo before", "exit 42"]) }),
      opts({ image: BUSYBOX_IMAGE }),
    );
    expect(result).toMatchObject({ state: "failed", failureReason: "script_failure", exitCode: 42 });
    expect(leftovers()).toEqual([]);
  });

  onEngine(
    "memory limits the container: the cgroup says so, and a script over it is OOM-killed (137)",
    async () => {
      const { result, log } = await runDockerJob(
        dockerPayload({
          steps: script([
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
            // tail keeps a line without newline in memory: 200 MiB of it.
            "head -c 209715200 /dev/zero | tail -n 1 > /dev/null",
            "echo survived",
          ]),
        }),
        opts({ image: DEBIAN_IMAGE, memory: "32m", memory_swap: "32m" }),
      );
      expect(log).toContain("33554432");
      expect(log).not.toContain("survived");
      expect(result).toMatchObject({ state: "failed", failureReason: "script_failure", exitCode: 137 });
      expect(leftovers()).toEqual([]);
    },
  );
});

describe("[runners.docker] keys on the engine", () => {
  onEngine("user, extra_hosts, dns, hostname, volumes and container_labels reach the job", async () => {
    const hostDir = join(dir, "host-volume");
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(hostDir, "marker"), "from-the-host\n");
    let labels = "";
    const { result, log } = await runDockerJob(
      dockerPayload({
        steps: script([
          "id -u",
          "grep gitlab.test /etc/hosts",
          "grep nameserver /etc/resolv.conf",
          "hostname",
          "cat /mnt/host/marker",
          "test -d /scratch && test -d /cache && echo volumes-mounted",
          "echo labels-check",
          // The build container must still run when the test lists the engine.
          "sleep 3",
        ]),
      }),
      opts(
        {
          image: BUSYBOX_IMAGE,
          user: "65534",
          extra_hosts: ["gitlab.test:127.0.0.9"],
          dns: ["127.0.0.53"],
          hostname: "pod-host",
          volumes: [`${hostDir}:/mnt/host:ro`, "/scratch"],
          container_labels: { team: "ci", "runmesh.worker": "spoofed" },
        },
        {
          onLog: (text) => {
            if (!labels && text.includes("\nlabels-check"))
              labels = d.cli([
                "ps",
                "--filter",
                "label=team=ci",
                "--format",
                '{{.Label "runmesh.worker"}} {{.Label "runmesh.type"}}',
              ]);
          },
        },
      ),
    );
    expect(log).toContain("\n65534\n");
    expect(log).toMatch(/127\.0\.0\.9\s+gitlab\.test/);
    expect(log).toContain("nameserver 127.0.0.53");
    expect(log).toContain("\npod-host\n");
    expect(log).toContain("from-the-host");
    expect(log).toContain("volumes-mounted");
    // Every container of the job has the user's label; the runner's own labels win.
    expect(result.state).toBe("success");
    expect(labels).toContain(`${WORKER} build`);
    expect(labels).toContain(`${WORKER} sandbox`);
    expect(labels).not.toContain("spoofed");
    expect(leftovers()).toEqual([]);
  });

  onEngine("the job's entrypoint wraps the shell; disable_entrypoint_overwrite ignores it", async () => {
    const job = dockerPayload({
      image: {
        name: BUSYBOX_IMAGE,
        entrypoint: ["/bin/sh", "-c", 'echo from-entrypoint; exec "$@"', "--"],
      },
      steps: script(["echo script-ran"]),
    });
    const wrapped = await runDockerJob(job, opts({}));
    expect(wrapped.log).toContain("from-entrypoint");
    expect(wrapped.log).toContain("script-ran");
    const plain = await runDockerJob(job, opts({ disable_entrypoint_overwrite: true }));
    expect(plain.log).not.toContain("from-entrypoint");
    expect(plain.log).toContain("script-ran");
  });

  onEngine(
    "/cache outlives the job in a volume; cache_dir makes it a host dir; disable_cache drops it",
    async () => {
      const write = script(["echo kept > /cache/marker"]);
      const read = script([
        "cat /cache/marker 2>/dev/null || echo no-cache-file",
        "test -d /cache || echo no-cache-dir",
      ]);
      await runDockerJob(dockerPayload({ steps: write }), opts({ image: BUSYBOX_IMAGE }));
      const again = await runDockerJob(dockerPayload({ steps: read }), opts({ image: BUSYBOX_IMAGE }));
      expect(again.log).toContain("\nkept\n");
      expect(d.cli(["volume", "ls", "-q", "--filter", "label=runmesh.type=cache"])).toContain(
        "runmesh-cache-abcdefghi-",
      );
      const off = await runDockerJob(
        dockerPayload({ steps: read }),
        opts({ image: BUSYBOX_IMAGE, disable_cache: true }),
      );
      expect(off.log).toContain("no-cache-dir");
      const cacheDir = join(dir, "host-cache");
      const onHost = await runDockerJob(
        dockerPayload({ steps: write }),
        opts({ image: BUSYBOX_IMAGE, cache_dir: cacheDir }),
      );
      expect(onHost.result.state).toBe("success");
      expect(readFileSync(join(cacheDir, "abcdefghi", "marker"), "utf8")).toBe("kept\n");
      expect(leftovers()).toEqual([]);
    },
  );

  onEngine(
    'network: no route out of the pod by default; network_mode = "host" reaches the host',
    async () => {
      const probe = script([
        `wget -q -T 2 -O /dev/null http://127.0.0.1:${git.port}/ && echo reached || echo unreachable`,
      ]);
      const isolated = await runDockerJob(dockerPayload({ steps: probe }), opts({ image: BUSYBOX_IMAGE }));
      expect(isolated.log).toContain("\nunreachable");
      const host = await runDockerJob(
        dockerPayload({ steps: probe }),
        opts({ image: BUSYBOX_IMAGE, network_mode: "host" }),
      );
      // 401 from the git server still proves the connection: wget fails, but not on connect.
      expect(host.log).not.toContain("Connection refused");
      expect(host.log).toMatch(/\n(reached|unreachable)/);
      expect(host.log).toMatch(/401|reached/);
    },
  );

  onEngine(
    "privileged: refused by allowed_privileged_images runs unprivileged; allowed asks the engine for it",
    async () => {
      const caps = script(["grep CapEff /proc/self/status"]);
      const refused = await runDockerJob(
        dockerPayload({ steps: caps }),
        opts({ image: BUSYBOX_IMAGE, privileged: true, allowed_privileged_images: ["trusted/*"] }),
      );
      expect(refused.result.state).toBe("success");
      expect(refused.log).toContain("CapEff:\t00000000a80425fb");
      const allowed = await runDockerJob(
        dockerPayload({ steps: caps }),
        opts({ image: BUSYBOX_IMAGE, privileged: true, allowed_privileged_images: ["local/*"] }),
      );
      // Where root lacks a capability (CAP_SYS_RESOURCE here, test-infra.md §1) runc refuses a
      // privileged container; elsewhere the job sees every capability.
      if (allowed.result.state === "success") expect(allowed.log).not.toContain("CapEff:\t00000000a80425fb");
      else expect(allowed.log).toContain("apply caps");
      expect(leftovers()).toEqual([]);
    },
  );
});

describe("pull policies against a local registry", () => {
  let n = 0;
  /** A fresh name in the registry, absent from the engine. */
  function pushed(): string {
    const name = `${registry.address}/runmesh/bb${++n}:1`;
    d.cli(["tag", BUSYBOX_IMAGE, name]);
    d.cli(["push", name]);
    d.cli(["rmi", name]);
    return name;
  }
  const present = (name: string) => d.cli(["images", "-q", name]).trim() !== "";

  onEngine("if-not-present pulls a missing image, then uses the local one", async () => {
    const name = pushed();
    const first = await runDockerJob(
      dockerPayload({ image: { name }, steps: script(["echo ran"]) }),
      opts({ pull_policy: "if-not-present" }),
    );
    expect(first.log).toContain(`Pulling docker image ${name} ...`);
    expect(first.result.state).toBe("success");
    expect(present(name)).toBe(true);
    const second = await runDockerJob(
      dockerPayload({ image: { name }, steps: script(["echo ran"]) }),
      opts({ pull_policy: "if-not-present" }),
    );
    expect(second.log).toContain('Using locally found image version due to "if-not-present" pull policy');
    expect(second.log).not.toContain("Pulling docker image");
  });

  onEngine("always pulls even when the image is present", async () => {
    const name = pushed();
    d.cli(["pull", name]);
    const { log, result } = await runDockerJob(
      dockerPayload({ image: { name }, steps: script(["echo ran"]) }),
      opts({ pull_policy: "always" }),
    );
    expect(log).toContain(`Pulling docker image ${name} ...`);
    expect(result.state).toBe("success");
  });

  onEngine("never fails a missing image as image_pull_failure; uses a present one", async () => {
    const name = pushed();
    const missing = await runDockerJob(
      dockerPayload({ image: { name }, steps: script(["echo ran"]) }),
      opts({ pull_policy: "never" }),
    );
    expect(missing.result.failureReason).toBe("image_pull_failure");
    expect(missing.log).toContain(`not found locally and pull_policy is "never"`);
    expect(missing.log).not.toContain("Pulling docker image");
    expect(leftovers()).toEqual([]);
    d.cli(["pull", name]);
    const local = await runDockerJob(
      dockerPayload({ image: { name }, steps: script(["echo ran"]) }),
      opts({ pull_policy: "never" }),
    );
    expect(local.result.state).toBe("success");
  });

  onEngine("a list falls through: never then always pulls what is missing", async () => {
    const name = pushed();
    const { log, result } = await runDockerJob(
      dockerPayload({ image: { name, pull_policy: ["never", "always"] }, steps: script(["echo ran"]) }),
      opts({ pull_policy: ["always"], allowed_pull_policies: ["never", "always"] }),
    );
    expect(log).toContain(`Pulling docker image ${name} ...`);
    expect(result.state).toBe("success");
  });

  onEngine("an image the registry does not have is image_pull_failure", async () => {
    const { log, result } = await runDockerJob(
      dockerPayload({ image: { name: `${registry.address}/runmesh/absent:1` }, steps: script(["echo ran"]) }),
      opts({ pull_policy: "always" }),
    );
    expect(log).toContain("Pulling docker image");
    expect(result.failureReason).toBe("image_pull_failure");
    expect(leftovers()).toEqual([]);
  });

  onEngine("a job pull_policy outside allowed_pull_policies is a configuration error", async () => {
    const { log, result } = await runDockerJob(
      dockerPayload({
        image: { name: BUSYBOX_IMAGE, pull_policy: ["always"] },
        steps: script(["echo ran"]),
      }),
      opts({ pull_policy: ["if-not-present"], allowed_pull_policies: ["if-not-present", "never"] }),
    );
    expect(log).toContain(
      `invalid pull policy for image "${BUSYBOX_IMAGE}": pull_policy ([always]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([if-not-present never])`,
    );
    expect(result.failureReason).toBe("runner_configuration_error");
  });
});

describe("a registry with auth", () => {
  let secured: LocalRegistry;
  let image: string;
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  beforeAll(async () => {
    if (!engineAvailable) return;
    secured = await startRegistry({ auth: { username: "ci", password: "s3cret" } });
    image = `${secured.address}/private/bb:1`;
    d.cli(["login", "-u", "ci", "--password-stdin", secured.address], "s3cret");
    d.cli(["tag", BUSYBOX_IMAGE, image]);
    d.cli(["push", image]);
    d.cli(["rmi", image]);
    d.cli(["logout", secured.address]);
  });
  afterAll(async () => {
    await secured?.stop();
  });
  const pullJob = (extra: Record<string, unknown>) =>
    runDockerJob(
      dockerPayload({ image: { name: image }, steps: script(["echo pulled-and-ran"]), ...extra }),
      opts({ pull_policy: "always" }),
    );

  onEngine("without credentials the pull is refused: image_pull_failure", async () => {
    const { result, log } = await pullJob({});
    expect(log).not.toContain("Authenticating with credentials");
    expect(result.failureReason).toBe("image_pull_failure");
  });

  onEngine("the job's registry credentials pull the image", async () => {
    const { result, log } = await pullJob({
      credentials: [{ type: "registry", url: secured.address, username: "ci", password: "s3cret" }],
    });
    expect(log).toContain("Authenticating with credentials from job payload (GitLab Registry)");
    expect(log).toContain("pulled-and-ran");
    expect(result.state).toBe("success");
    d.cli(["rmi", image]);
  });

  onEngine("DOCKER_AUTH_CONFIG wins over the job's credentials", async () => {
    const { result, log } = await pullJob({
      variables: [
        { key: "GIT_STRATEGY", value: "none" },
        {
          key: "DOCKER_AUTH_CONFIG",
          value: JSON.stringify({ auths: { [secured.address]: { auth: b64("ci:s3cret") } } }),
        },
      ],
      credentials: [{ type: "registry", url: secured.address, username: "ci", password: "wrong" }],
    });
    expect(log).toContain("Authenticating with credentials from $DOCKER_AUTH_CONFIG");
    expect(result.state).toBe("success");
    d.cli(["rmi", image]);
  });
});

describe("nothing left behind", () => {
  onEngine("a job timeout stops the container and removes everything", async () => {
    const job = dockerPayload({ runner_info: { timeout: 2 }, steps: script(["sleep 60"]) });
    const { result } = await runDockerJob(job, opts({ image: BUSYBOX_IMAGE }));
    expect(result.failureReason).toBe("job_execution_timeout");
    expect(leftovers()).toEqual([]);
  });

  onEngine("cancel stops the script, after_script still runs, then everything goes", async () => {
    const { result, log } = await runDockerJob(
      dockerPayload({ steps: script(["echo started-sleeping", "sleep 60"], ["echo after-ran"]) }),
      opts(
        { image: BUSYBOX_IMAGE },
        {
          onLog: (text, c) => {
            if (text.includes("started-sleeping")) c.cancel();
          },
        },
      ),
    );
    expect(result.failureReason).toBe("job_canceled");
    expect(log).toContain("after-ran");
    expect(leftovers()).toEqual([]);
  });

  onEngine("abort stops everything at once and removes everything, services included", async () => {
    const { result, log } = await runDockerJob(
      dockerPayload({
        services: [{ name: BUSYBOX_IMAGE, alias: "svc", command: ["sleep", "600"] }],
        steps: script(["echo started-sleeping", "sleep 60"], ["echo after-ran"]),
      }),
      opts(
        { image: BUSYBOX_IMAGE },
        {
          onLog: (text, c) => {
            if (text.includes("started-sleeping")) c.abort();
          },
        },
      ),
    );
    expect(result.state).toBe("failed");
    expect(log).not.toContain("after-ran");
    expect(leftovers()).toEqual([]);
  });

  onEngine("the worker's start-up sweep removes what a crashed run left, and only its own", async () => {
    const dataDir = join(dir, "worker-data");
    const provider = dockerProvider();
    // A job prepared and never cleaned up: a worker that died mid-job.
    const executor = provider.create({
      worker: { workerId: WORKER, dataDir },
      runner: {
        name: "docker-1",
        short_token: "abcdefghi",
        docker: dockerSettings({ image: BUSYBOX_IMAGE }),
      },
    });
    await executor.prepare({
      buildsDir: "/builds",
      projectDir: "/builds/group/project",
      shell: "bash",
      log: () => {},
      signal: new AbortController().signal,
      jobId: 77,
      services: [],
    });
    // Another worker's container on the same engine must survive the sweep.
    d.cli([
      "run",
      "-d",
      "--network",
      "none",
      "--label",
      "runmesh.managed=true",
      "--label",
      "runmesh.worker=other",
      BUSYBOX_IMAGE,
      "sleep",
      "600",
    ]);
    expect(leftovers().length).toBeGreaterThanOrEqual(2);
    const removed = await dockerProvider().recover!({ workerId: WORKER, dataDir });
    expect(removed.some((r) => r.startsWith("container "))).toBe(true);
    expect(removed.some((r) => r.startsWith("volume "))).toBe(true);
    expect(leftovers()).toEqual([]);
    expect(d.cli(["ps", "-q", "--filter", "label=runmesh.worker=other"]).trim()).not.toBe("");
  });
});
