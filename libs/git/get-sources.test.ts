import { describe, expect, test } from "bun:test";
import { shellQuote } from "../shell/bash.ts";
import {
  clearWorktreeScript,
  type GetSourcesInput,
  GitSourcesConfigError,
  getSourcesScript,
} from "./get-sources.ts";

const SHA = "1f8d8b6a2c3e4f5061728394a5b6c7d8e9f00112";
const base: GetSourcesInput = {
  projectDir: "/builds/t0/0/group/project",
  repoUrl: "https://gitlab-ci-token:tok3n@gitlab.example.com/group/project.git",
  jobToken: "tok3n",
  serverUrl: "https://gitlab.example.com",
  refspecs: ["+refs/heads/main:refs/remotes/origin/main", "+refs/tags/*:refs/tags/*"],
  sha: SHA,
  ref: "main",
  refType: "branch",
  depth: 20,
  allowGitFetch: true,
  variables: {},
};

const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** The eval'd body of a generated script, unquoted, without ANSI colours. */
function body(script: string): string {
  const m = /: \| \(?eval '([\s\S]*)'\)?\nexit 0\n$/.exec(script);
  expect(m).not.toBeNull();
  return m![1]!.replaceAll(`'\\''`, "'").replace(ANSI_COLOUR, "");
}

const gen = (over: Partial<GetSourcesInput> = {}, vars: Record<string, string> = {}) =>
  body(getSourcesScript({ ...base, ...over, variables: vars }));

const lines = (b: string) => b.split("\n").map((l) => l.trim());

describe("getSourcesScript", () => {
  test("default fetch: reuses the repo (init + remote add or set-url), fetches refspecs at git_info.depth", () => {
    const b = gen();
    const l = lines(b);
    expect(l).toContain("printf '%s\\n' 'Fetching changes with git depth set to 20...'");
    expect(l).toContain(
      "git init /builds/t0/0/group/project --template /builds/t0/0/group/project.tmp/git-template",
    );
    expect(l).toContain(
      "if git remote add origin https://gitlab.example.com/group/project.git >/dev/null 2>&1; then",
    );
    expect(l).toContain("printf '%s\\n' 'Created fresh repository.'");
    expect(l).toContain("git remote set-url origin https://gitlab.example.com/group/project.git");
    expect(l).toContain(
      "git -c http.userAgent=runmesh fetch origin --no-recurse-submodules +refs/heads/main:refs/remotes/origin/main '+refs/tags/*:refs/tags/*' --depth 20 --prune --quiet",
    );
    expect(b).not.toContain("rm -r -f /builds/t0/0/group/project\n");
    expect(b).not.toContain("--unshallow");
  });

  test("GIT_DEPTH is not what drives --depth: git_info.depth is", () => {
    const b = gen({ depth: 3 }, { GIT_DEPTH: "50" });
    expect(b).toContain("--depth 3 ");
    expect(b).not.toContain("--depth 50");
  });

  test("clone (allow_git_fetch false or GIT_STRATEGY=clone) removes the project dir before init", () => {
    for (const b of [gen({ allowGitFetch: false }), gen({}, { GIT_STRATEGY: "clone" })]) {
      const rm = b.indexOf("rm -r -f /builds/t0/0/group/project\n");
      expect(rm).toBeGreaterThan(0);
      expect(rm).toBeLessThan(b.indexOf("git init"));
    }
  });

  test("depth 0 fetches everything and unshallows a shallow repo left by an earlier job", () => {
    const l = lines(gen({ depth: 0 }));
    expect(l).toContain("printf '%s\\n' 'Fetching changes...'");
    expect(l).toContain("if [ -e .git/shallow ]; then");
    expect(l.find((x) => x.includes("--unshallow"))).toEndWith("--prune --quiet --unshallow");
  });

  test("checkout is by SHA, detached, then git clean with GIT_CLEAN_FLAGS", () => {
    const l = lines(gen({}, { GIT_CLEAN_FLAGS: "-ffdx -e cache/" }));
    expect(l).toContain("printf '%s\\n' 'Checking out 1f8d8b6a as detached HEAD (ref is main)...'");
    expect(l).toContain(`git -c submodule.recurse=false checkout -f -q ${SHA}`);
    expect(l).toContain("git clean -ffdx -e cache/");
    expect(lines(gen())).toContain("git clean -ffdx");
  });

  test("GIT_CLEAN_FLAGS=none: no git clean", () => {
    expect(gen({}, { GIT_CLEAN_FLAGS: "none" })).not.toContain("git clean");
  });

  test("GIT_FETCH_EXTRA_FLAGS replaces --prune --quiet; none drops them", () => {
    expect(gen({}, { GIT_FETCH_EXTRA_FLAGS: "--prune" })).toContain("--depth 20 --prune\n");
    expect(gen({}, { GIT_FETCH_EXTRA_FLAGS: "none" })).toContain("'+refs/tags/*:refs/tags/*' --depth 20\n");
  });

  test("GIT_CHECKOUT=false: no checkout, no clean, no LFS pull, GitLab's notice", () => {
    const b = gen({}, { GIT_CHECKOUT: "false" });
    expect(b).toContain("Skipping Git checkout");
    expect(b).not.toContain("checkout -f");
    expect(b).not.toContain("git clean");
    expect(b).not.toContain("git lfs pull");
  });

  test("GIT_STRATEGY=none: no git at all, no hooks, GitLab's skip messages", () => {
    const b = gen(
      { preGetSourcesScript: "echo pre", postGetSourcesHook: ["echo post"] },
      { GIT_STRATEGY: "none" },
    );
    expect(lines(b)).toEqual(
      expect.arrayContaining([
        "printf '%s\\n' 'Skipping Git repository setup'",
        "mkdir -p /builds/t0/0/group/project",
        "printf '%s\\n' 'Skipping Git checkout'",
        "printf '%s\\n' 'Skipping Git submodules setup'",
      ]),
    );
    expect(b).not.toMatch(/^git /m);
    expect(b).not.toContain("echo pre");
    expect(b).not.toContain("echo post");
  });

  test("GIT_STRATEGY=empty wipes and recreates the project dir, then skips", () => {
    const l = lines(gen({}, { GIT_STRATEGY: "empty" }));
    const msg = l.indexOf(
      "printf '%s\\n' 'Skipping Git repository setup and creating an empty build directory'",
    );
    expect(msg).toBeGreaterThan(0);
    expect(l[msg + 1]).toBe("rm -r -f /builds/t0/0/group/project");
    expect(l[msg + 2]).toBe("mkdir -p /builds/t0/0/group/project");
    expect(l).toContain("printf '%s\\n' 'Skipping Git checkout'");
  });

  test("LFS: smudge off during checkout, then git lfs pull; GIT_LFS_SKIP_SMUDGE=1 leaves LFS alone", () => {
    const b = gen();
    expect(b.indexOf("export GIT_LFS_SKIP_SMUDGE=1")).toBeLessThan(b.indexOf("checkout -f"));
    expect(b).toContain("if git lfs version >/dev/null 2>&1; then\n  git lfs pull\n  echo\nfi");
    const skipped = gen({}, { GIT_LFS_SKIP_SMUDGE: "1" });
    expect(skipped).not.toContain("export GIT_LFS_SKIP_SMUDGE=1");
    expect(skipped).not.toContain("lfs pull");
  });

  test("the token stays out of .git/config: it lives in insteadOf rules of the external config", () => {
    const b = gen();
    expect(b).toContain(
      "export GLR_EXT_GIT_CONFIG_PATH=/builds/t0/0/group/project.tmp/.gitlab-runner.ext.conf",
    );
    expect(b).toContain(
      `git config --file "$GLR_EXT_GIT_CONFIG_PATH" --replace-all url.https://gitlab-ci-token:tok3n@gitlab.example.com/group/project.git.insteadOf https://gitlab.example.com/group/project.git '^https://gitlab\\.example\\.com/group/project\\.git$'`,
    );
    expect(b).toContain(
      `git config --file /builds/t0/0/group/project.tmp/git-template/config --replace-all include.path "$GLR_EXT_GIT_CONFIG_PATH" '\\.gitlab-runner\\.ext\\.conf$'`,
    );
    expect(b).toContain(
      `git config --file .git/config --replace-all include.path "$GLR_EXT_GIT_CONFIG_PATH" '\\.gitlab-runner\\.ext\\.conf$'`,
    );
    for (const l of lines(b).filter((x) => x.startsWith("git remote"))) expect(l).not.toContain("tok3n");
  });

  test("a relative project dir gets an absolute external-config path from $PWD", () => {
    expect(gen({ projectDir: "builds/p" })).toContain(
      `export GLR_EXT_GIT_CONFIG_PATH="$PWD"/builds/p.tmp/.gitlab-runner.ext.conf`,
    );
  });

  test("a CA file is exported as GIT_SSL_CAINFO (it beats http.sslCAInfo) and set for the host", () => {
    const b = gen({ tls: { caFile: "/builds/t0/0/group/project.tmp/CI_SERVER_TLS_CA_FILE" } });
    expect(b).toContain("export GIT_SSL_CAINFO=/builds/t0/0/group/project.tmp/CI_SERVER_TLS_CA_FILE");
    expect(b).toContain(
      `git config --file "$GLR_EXT_GIT_CONFIG_PATH" http.https://gitlab.example.com.sslCAInfo /builds/t0/0/group/project.tmp/CI_SERVER_TLS_CA_FILE`,
    );
    expect(gen()).not.toContain("GIT_SSL_CAINFO");
  });

  test("object format sha256 is passed to git init", () => {
    expect(gen({ objectFormat: "sha256" })).toContain("--object-format sha256");
    expect(gen({ objectFormat: "sha1" })).not.toContain("--object-format");
  });

  test.each([
    [
      "normal",
      {},
      "Updating/initializing submodules with git depth set to 20...",
      "git submodule update --init --depth 20",
    ],
    [
      "recursive",
      {},
      "Updating/initializing submodules recursively with git depth set to 20...",
      "git submodule update --init --recursive --depth 20",
    ],
    [
      "recursive",
      { GIT_SUBMODULE_DEPTH: "0", GIT_SUBMODULE_UPDATE_FLAGS: "--remote --jobs 4" },
      "Updating/initializing submodules recursively...",
      "git submodule update --init --recursive --remote --jobs 4",
    ],
    [
      "normal",
      { GIT_SUBMODULE_DEPTH: "3", GIT_SUBMODULE_PATHS: "a :(exclude)b" },
      "Updating/initializing submodules with git depth set to 3...",
      "git submodule update --init --depth 3 -- a ':(exclude)b'",
    ],
  ] as const)("GIT_SUBMODULE_STRATEGY=%s %j", (strategy, vars, notice, update) => {
    const b = gen({}, { GIT_SUBMODULE_STRATEGY: strategy, ...vars });
    expect(b).toContain(notice);
    expect(b).toContain(`if git -c "include.path=$GLR_EXT_GIT_CONFIG_PATH" ${update.slice(4)}; then`);
    expect(b).toContain("git submodule init\n");
    expect(b).toContain(strategy === "recursive" ? "git submodule sync --recursive" : "git submodule sync");
  });

  test("submodule strategy none says so; an unknown one refuses to generate", () => {
    expect(gen()).toContain("Skipping Git submodules setup");
    expect(() => gen({}, { GIT_SUBMODULE_STRATEGY: "deep" })).toThrow(GitSourcesConfigError);
    expect(() => gen({}, { GIT_SUBMODULE_STRATEGY: "normal", GIT_SUBMODULE_PATHS: ":(exclude) a" })).toThrow(
      /GIT_SUBMODULE_PATHS/,
    );
  });

  test("hooks run in GitLab's order: runner pre, job pre … job post, runner post", () => {
    const b = gen({
      preGetSourcesScript: "echo runner-pre",
      preGetSourcesHook: ["echo job-pre"],
      postGetSourcesHook: ["echo job-post"],
      postGetSourcesScript: "echo runner-post",
    });
    const order = ["echo runner-pre", "echo job-pre", "git init", "echo job-post", "echo runner-post"].map(
      (s) => b.indexOf(`\n${s}`),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
  });

  test("user values reach git as single words: no expansion, no command substitution", () => {
    const b = gen(
      { ref: "main$(touch /tmp/pwned)", projectDir: "/builds/a b/$(id)" },
      { GIT_CLEAN_FLAGS: "-ffdx -e $(rm) `x`", GIT_SUBMODULE_STRATEGY: "normal" },
    );
    expect(b).toContain("git clean -ffdx -e '$(rm)' '`x`'");
    expect(b).toContain("cd '/builds/a b/$(id)'");
    expect(b).toContain("'Checking out 1f8d8b6a as detached HEAD (ref is main$(touch /tmp/pwned))...'");
    // inside `submodule foreach`, which runs its argument through a shell, each flag is quoted again
    expect(b).toContain(`git submodule foreach ${shellQuote("git clean -ffdx -e '$(rm)' '`x`'")}`);
  });

  test("the prelude (variable exports) comes first", () => {
    const b = body(getSourcesScript({ ...base, writePrelude: (w) => w.export("CI_JOB_ID", "42") }));
    expect(
      b.startsWith("export CI_JOB_ID=42\nexport GIT_TERMINAL_PROMPT=0\nexport GCM_INTERACTIVE=Never\n"),
    ).toBe(true);
  });
});

describe("clearWorktreeScript", () => {
  test("removes tracked and untracked files inside the project dir only if it exists", () => {
    const b = body(clearWorktreeScript("/builds/p"));
    expect(lines(b)).toEqual([
      "printf '%s\\n' 'Deleting tracked and untracked files...'",
      "if [ -d /builds/p ]; then",
      "cd /builds/p",
      "git rm -rf --ignore-unmatch .",
      "git clean -ffdx",
      "fi",
      "",
    ]);
  });
});
