import { describe, expect, test } from "bun:test";
import { RemoteUrlError, resolveRemoteUrls, schemeAndHost } from "./remote-url.ts";

const repoUrl = "https://gitlab-ci-token:tok3n@gitlab.example.com/group/project.git";

describe("resolveRemoteUrls", () => {
  test("repo_url as sent: the remote keeps no token; insteadOf rules put it back for the repo and the server", () => {
    const r = resolveRemoteUrls({ repoUrl, jobToken: "tok3n", serverUrl: "https://gitlab.example.com/" });
    expect(r.withCredentials).toBe(repoUrl);
    expect(r.withoutCredentials).toBe("https://gitlab.example.com/group/project.git");
    expect(r.insteadOfs).toEqual([
      [repoUrl, "https://gitlab.example.com/group/project.git"],
      ["https://gitlab-ci-token:tok3n@gitlab.example.com", "https://gitlab.example.com"],
    ]);
  });

  test("clone_url replaces the host: <clone_url>/<CI_PROJECT_PATH>.git with the job token", () => {
    const r = resolveRemoteUrls({
      repoUrl,
      jobToken: "tok3n",
      cloneUrl: "http://10.0.0.5:8080/gitlab",
      projectPath: "group/project",
    });
    expect(r.withCredentials).toBe("http://gitlab-ci-token:tok3n@10.0.0.5:8080/gitlab/group/project.git");
    expect(r.withoutCredentials).toBe("http://10.0.0.5:8080/gitlab/group/project.git");
    expect(r.insteadOfs).toContainEqual([
      "http://gitlab-ci-token:tok3n@10.0.0.5:8080/gitlab",
      "http://10.0.0.5:8080/gitlab",
    ]);
    // repo_url's host is still covered: submodule URLs in .gitmodules may name it.
    expect(r.insteadOfs).toContainEqual([
      "https://gitlab-ci-token:tok3n@gitlab.example.com",
      "https://gitlab.example.com",
    ]);
  });

  test("a token with URL-special characters is percent-encoded, not spliced raw", () => {
    const r = resolveRemoteUrls({
      repoUrl: "https://gitlab.example.com/g/p.git",
      jobToken: "a/b@c:d",
      cloneUrl: "https://gitlab.example.com",
      projectPath: "g/p",
    });
    expect(r.withCredentials).toBe("https://gitlab-ci-token:a%2Fb%40c%3Ad@gitlab.example.com/g/p.git");
  });

  test("GIT_SUBMODULE_FORCE_HTTPS maps the server's ssh URLs to https with the token", () => {
    const base = {
      repoUrl,
      jobToken: "t",
      serverUrl: "https://gitlab.example.com",
      submoduleForceHttps: true,
    };
    const r = resolveRemoteUrls({ ...base, serverHost: "gitlab.example.com" });
    expect(r.insteadOfs).toContainEqual([
      "https://gitlab-ci-token:t@gitlab.example.com/",
      "git@gitlab.example.com:",
    ]);
    expect(r.insteadOfs).toContainEqual([
      "https://gitlab-ci-token:t@gitlab.example.com",
      "ssh://git@gitlab.example.com",
    ]);
    const withPort = resolveRemoteUrls({
      ...base,
      serverShellSshHost: "ssh.example.com",
      serverShellSshPort: "2222",
    });
    expect(withPort.insteadOfs).toContainEqual([
      "https://gitlab-ci-token:t@gitlab.example.com",
      "ssh://git@ssh.example.com:2222",
    ]);
  });

  test("an unparsable repo URL is an error that hides the password", () => {
    const attempt = () =>
      resolveRemoteUrls({ repoUrl: "not a url gitlab-ci-token:secret@x", jobToken: "secret" });
    expect(attempt).toThrow(RemoteUrlError);
    expect(attempt).toThrow(/gitlab-ci-token:\[MASKED\]@x/);
    expect(attempt).not.toThrow(/secret/);
  });

  test("schemeAndHost drops userinfo and path", () => {
    expect(schemeAndHost(repoUrl)).toBe("https://gitlab.example.com");
    expect(schemeAndHost("http://127.0.0.1:8929/a.git")).toBe("http://127.0.0.1:8929");
  });
});
