import { describe, expect, test } from "bun:test";
import { ExecutorError } from "../executor.ts";
import { engineOptions } from "./engine.ts";

describe("[runners.docker] host → engine connection", () => {
  test.each([
    [{ host: "unix:///run/x/docker.sock" }, {}, { socketPath: "/run/x/docker.sock" }],
    [{ host: "tcp://127.0.0.1:2375" }, {}, { host: "127.0.0.1", port: 2375, protocol: "http" }],
    [{ host: "tcp://[::1]:2376", tls_verify: true }, {}, { host: "::1", port: 2376, protocol: "https" }],
    [{}, { DOCKER_HOST: "unix:///env.sock" }, { socketPath: "/env.sock" }],
  ])("%p with env %p → %p", (address, env, want) => {
    expect(engineOptions(address, env)).toEqual(want as never);
  });

  test("no host and no DOCKER_HOST is a configuration error: never the default socket", () => {
    let error: unknown;
    try {
      engineOptions({}, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ExecutorError);
    expect((error as ExecutorError).failureReason).toBe("runner_configuration_error");
    expect((error as Error).message).toContain("[runners.docker] host: not set and DOCKER_HOST is empty");
  });

  test("an address that is neither unix:// nor tcp:// names the key and what it expects", () => {
    expect(() => engineOptions({ host: "docker.example:2375" }, {})).toThrow(
      '[runners.docker] host: expected "unix:///path" or "tcp://host:port", got "docker.example:2375"',
    );
  });
});
