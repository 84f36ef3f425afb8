import { describe, expect, test } from "bun:test";
import { remoteEngine } from "./docker-tunnel.ts";

describe("remoteEngine: [runners.docker] host as the engine's address on the instance", () => {
  test.each([
    [undefined, { socketPath: "/var/run/docker.sock" }],
    ["", { socketPath: "/var/run/docker.sock" }],
    ["unix:///run/user/1000/docker.sock", { socketPath: "/run/user/1000/docker.sock" }],
    ["tcp://127.0.0.1:2375", { host: "127.0.0.1", port: 2375 }],
    ["tcp://[::1]:2375/", { host: "::1", port: 2375 }],
  ])("%p", (host, want) => {
    expect(remoteEngine(host)).toEqual(want);
  });

  test("refuses anything else, naming the key and what it takes", () => {
    expect(() => remoteEngine("ssh://instance")).toThrow(
      '[runners.docker] host: expected the engine\'s address on the instance, "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375", got "ssh://instance"',
    );
  });
});
