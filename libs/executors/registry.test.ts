import { describe, expect, test } from "bun:test";
import type { ExecutorProvider } from "./provider.ts";
import { builtinExecutors, ExecutorRegistry, UnknownExecutorError } from "./registry.ts";
import { resolveHostDir, shellProvider } from "./shell/provider.ts";

const fake = (name: string): ExecutorProvider => ({
  ...shellProvider,
  name,
  features: {},
});

describe("executor registry", () => {
  test("runmesh ships the shell executor, with bash by default and a shared builds dir", () => {
    const shell = builtinExecutors().get("shell");
    expect(shell?.defaultShell).toBe("bash");
    expect(shell?.features).toEqual({
      shared: true,
      cache: true,
      fallback_cache_keys: true,
      artifacts: true,
      upload_multiple_artifacts: true,
      upload_raw_artifacts: true,
      artifacts_exclude: true,
    });
    expect(builtinExecutors().names()).toEqual([
      "shell",
      "docker",
      "ssh",
      "custom",
      "instance",
      "docker-autoscaler",
    ]);
  });

  test("the instance executor runs on acquired instances with the ssh executor's shells and features", () => {
    const instance = builtinExecutors().get("instance");
    const ssh = builtinExecutors().get("ssh");
    expect(instance?.features).toEqual(ssh!.features);
    expect(instance?.shells).toEqual(ssh!.shells);
    expect(
      instance?.layout({
        workerBuildsDir: "/w/builds",
        workerCacheDir: "/w/cache",
        runner: { short_token: "abc", autoscaler: { connector_config: { username: "ci" } } as never },
      }),
    ).toEqual({
      buildsDir: "/home/ci/builds",
      cacheDir: "/home/ci/cache",
      sharedBuildsDir: true,
      localCacheDir: "/w/cache",
      locksDir: "/w/builds/instance-slots/abc",
    });
  });

  test("the docker-autoscaler executor has the docker executor's features, shells and layout", () => {
    const das = builtinExecutors().get("docker-autoscaler");
    const docker = builtinExecutors().get("docker");
    expect(das?.features).toEqual(docker!.features);
    expect(das?.shells).toEqual(docker!.shells);
    const input = { workerBuildsDir: "/w/builds", workerCacheDir: "/w/cache" };
    expect(das?.layout(input)).toEqual(docker!.layout(input));
  });

  test("the docker executor turns on image and services, builds in a /builds of its own", () => {
    const docker = builtinExecutors().get("docker");
    expect(docker?.features).toMatchObject({ image: true, services: true, service_variables: true });
    expect(docker?.features.shared).toBeUndefined();
    expect(docker?.layout({ workerBuildsDir: "/w/builds", workerCacheDir: "/w/cache" })).toEqual({
      buildsDir: "/builds",
      cacheDir: "/cache",
      sharedBuildsDir: false,
      locksDir: "/w/builds/docker-slots",
      localCacheDir: "/w/cache",
    });
  });

  test("select keeps the configured executors, in config order", () => {
    const r = new ExecutorRegistry([shellProvider, fake("custom"), fake("ssh")]);
    expect(r.select(["ssh", "shell", "ssh"]).names()).toEqual(["ssh", "shell"]);
  });

  test("select refuses an executor with no provider, naming the key, the value and what is available", () => {
    const r = builtinExecutors();
    let error: unknown;
    try {
      r.select(["shell", "kubernetes"]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnknownExecutorError);
    const message = (error as Error).message;
    expect(message).toContain("[mesh] worker_executors");
    expect(message).toContain('"kubernetes"');
    expect(message).toContain('available: "shell", "docker"');
  });

  test("with() adds a provider without touching the original; a name registered twice is refused", () => {
    const base = builtinExecutors();
    const more = base.with(fake("plug-in"));
    expect(more.names()).toEqual([
      "shell",
      "docker",
      "ssh",
      "custom",
      "instance",
      "docker-autoscaler",
      "plug-in",
    ]);
    expect(base.get("plug-in")).toBeUndefined();
    expect(() => base.with(fake("shell"))).toThrow('executor "shell" is registered twice');
  });
});

describe("shell executor layout", () => {
  test("builds and cache under the runner's dirs, else the worker's; $PWD is the worker's directory", () => {
    const layout = shellProvider.layout({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: GitLab's builds_dir syntax
      buildsDir: "${PWD}/b",
      workerBuildsDir: "/w/builds",
      workerCacheDir: "/w/cache",
    });
    expect(layout).toEqual({
      buildsDir: `${process.cwd()}/b`,
      cacheDir: "/w/cache",
      sharedBuildsDir: true,
      locksDir: `${process.cwd()}/b`,
    });
    expect(resolveHostDir("$PWD/x/../y")).toBe(`${process.cwd()}/y`);
  });
});
