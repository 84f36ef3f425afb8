import { describe, expect, test } from "bun:test";
import { authFromDockerConfig, registryOf, resolveRegistryAuth } from "./registry-auth.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("registry credentials in GitLab Runner's precedence", () => {
  test.each([
    ["alpine", "docker.io"],
    ["library/alpine:3", "docker.io"],
    ["registry.example.com/g/p:1", "registry.example.com"],
    ["127.0.0.1:5000/x", "127.0.0.1:5000"],
    ["localhost/x", "localhost"],
  ])("%s is pulled from %s", (image, want) => {
    expect(registryOf(image)).toBe(want);
  });

  test("auth and username/password entries; Docker Hub under any of its names", () => {
    expect(
      authFromDockerConfig(JSON.stringify({ auths: { "r:5000": { auth: b64("u:p:w") } } }), "r:5000"),
    ).toEqual({
      username: "u",
      password: "p:w",
    });
    const hub = JSON.stringify({
      auths: { "https://index.docker.io/v1/": { username: "h", password: "x" } },
    });
    expect(authFromDockerConfig(hub, "docker.io")).toEqual({ username: "h", password: "x" });
    expect(authFromDockerConfig("not json", "docker.io")).toBeUndefined();
  });

  const variable = JSON.stringify({ auths: { "r:5000": { auth: b64("from-var:1") } } });
  const home = {
    path: "/root/.docker/config.json",
    text: JSON.stringify({ auths: { "http://r:5000": { auth: b64("from-home:2") } } }),
  };
  const credentials = [
    { type: "registry", url: "r:5000", username: "gitlab-ci-token", password: "job-token" },
  ];

  test.each([
    [{ dockerAuthConfig: variable, homeConfig: home, credentials }, "from-var", "$DOCKER_AUTH_CONFIG"],
    [{ homeConfig: home, credentials }, "from-home", "/root/.docker/config.json"],
    [{ credentials }, "gitlab-ci-token", "job payload (GitLab Registry)"],
    // A source without an entry for this registry does not stop the search.
    [
      { dockerAuthConfig: JSON.stringify({ auths: { other: { auth: b64("o:o") } } }), credentials },
      "gitlab-ci-token",
      "job payload (GitLab Registry)",
    ],
  ])("%p → %s from %s", (sources, user, source) => {
    expect(resolveRegistryAuth("r:5000/g/img:1", sources)).toMatchObject({
      username: user,
      source,
      serveraddress: "r:5000",
    });
  });

  test("nothing for the image's registry: no credentials", () => {
    expect(resolveRegistryAuth("alpine", { dockerAuthConfig: variable, credentials })).toBeUndefined();
  });
});
