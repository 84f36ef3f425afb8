// get_sources scripts run for real: bash, git and git-lfs against `git http-backend` behind a
// job-token basic-auth server on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFixtureRepos, type FixtureRepos } from "../../tests/infra/git-fixtures.ts";
import { type GitHttpServer, startGitHttpServer } from "../../tests/infra/git-http-server.ts";
import { clearWorktreeScript, type GetSourcesInput, getSourcesScript } from "./get-sources.ts";

const TOKEN = "glcbt-64_job-token-Secret";

let dir: string;
let fx: FixtureRepos;
let server: GitHttpServer;
let gitConfigGlobal: string;
let runs = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "runmesh-git-"));
  fx = await createFixtureRepos(join(dir, "fixtures"));
  server = await startGitHttpServer({ root: fx.root, token: TOKEN });
  // A job image with git-lfs installed (`git lfs install`), and nothing else of this machine's.
  gitConfigGlobal = join(dir, "gitconfig");
  await writeFile(
    gitConfigGlobal,
    '[filter "lfs"]\n\tclean = git-lfs clean -- %f\n\tsmudge = git-lfs smudge -- %f\n\tprocess = git-lfs filter-process\n\trequired = true\n',
  );
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const repoUrl = (token = TOKEN) =>
  `http://gitlab-ci-token:${token}@127.0.0.1:${server.port}/group/project.git`;

function input(projectDir: string, over: Partial<GetSourcesInput> = {}): GetSourcesInput {
  return {
    projectDir,
    repoUrl: repoUrl(),
    jobToken: TOKEN,
    serverUrl: server.url,
    refspecs: ["+refs/heads/main:refs/remotes/origin/main", "+refs/tags/*:refs/tags/*"],
    sha: fx.head,
    ref: "main",
    refType: "branch",
    depth: 1,
    allowGitFetch: true,
    variables: {},
    ...over,
  };
}

interface Run {
  code: number;
  out: string;
}

/** Runs a script with bash as an executor would (async: the server lives in this process). */
async function run(script: string): Promise<Run> {
  const file = join(dir, `script-${++runs}.sh`);
  await writeFile(file, script);
  const proc = Bun.spawn(["bash", file], {
    cwd: dir,
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: gitConfigGlobal },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, out: stdout + stderr };
}

function git(cwd: string, ...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], {
    cwd,
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
  });
  return r.stdout.toString().trim();
}

async function fresh(name: string): Promise<string> {
  const p = join(dir, "builds", name, "project");
  await mkdir(join(dir, "builds", name), { recursive: true });
  return p;
}

async function ok(script: string): Promise<string> {
  const r = await run(script);
  if (r.code !== 0) throw new Error(`script failed (${r.code}):\n${r.out}`);
  return r.out;
}

describe("get_sources against a real git HTTP server", () => {
  test("clone at depth 1 checks out the SHA detached, pulls LFS objects, keeps the token out of .git", async () => {
    const p = await fresh("clone");
    const out = await ok(getSourcesScript(input(p, { allowGitFetch: false })));
    expect(out).toContain("Fetching changes with git depth set to 1...");
    expect(out).toContain("Created fresh repository.");
    expect(out).toContain(`Checking out ${fx.head.slice(0, 8)} as detached HEAD (ref is main)...`);
    expect(git(p, "rev-parse", "HEAD")).toBe(fx.head);
    expect(git(p, "rev-parse", "--is-shallow-repository")).toBe("true");
    expect(git(p, "symbolic-ref", "-q", "HEAD")).toBe(""); // detached
    expect(await readFile(join(p, "file.txt"), "utf8")).toBe("line 1\nline 2\nline 3\nline 4\nline 5\n");
    expect(await readFile(join(p, fx.lfs.path), "utf8")).toBe(fx.lfs.content);
    // (`git remote get-url` would show the insteadOf-rewritten URL, token included)
    expect(git(p, "config", "remote.origin.url")).toBe(`${server.url}/group/project.git`);
    expect(await readFile(join(p, ".git/config"), "utf8")).not.toContain(TOKEN);
    expect(out).not.toContain(TOKEN);
  });

  test("fetch reuses the previous checkout; git clean -ffdx removes what the last job left", async () => {
    const p = await fresh("fetch");
    await ok(getSourcesScript(input(p, { sha: fx.mainCommits[5]!, depth: 3 })));
    await writeFile(join(p, "leftover.txt"), "from the last job\n");
    await mkdir(join(p, "node_modules"));
    await writeFile(join(p, "file.txt"), "modified\n");

    const out = await ok(getSourcesScript(input(p, { depth: 3 })));
    expect(out).not.toContain("Created fresh repository.");
    expect(out).toContain("Reinitialized existing Git repository");
    expect(git(p, "rev-parse", "HEAD")).toBe(fx.head);
    expect(existsSync(join(p, "leftover.txt"))).toBe(false);
    expect(existsSync(join(p, "node_modules"))).toBe(false);
    expect(await readFile(join(p, "file.txt"), "utf8")).toContain("line 5");
  });

  test("GIT_CLEAN_FLAGS=none keeps untracked files between fetches", async () => {
    const p = await fresh("noclean");
    await ok(getSourcesScript(input(p)));
    await writeFile(join(p, "leftover.txt"), "kept\n");
    await ok(getSourcesScript(input(p, { variables: { GIT_CLEAN_FLAGS: "none" } })));
    expect(await readFile(join(p, "leftover.txt"), "utf8")).toBe("kept\n");
  });

  test("a SHA older than the depth cannot be checked out; within the depth it can", async () => {
    const old = fx.mainCommits[1]!; // 7 commits behind main's head
    const tooShallow = await run(getSourcesScript(input(await fresh("old-shallow"), { sha: old, depth: 2 })));
    expect(tooShallow.code).not.toBe(0);
    expect(tooShallow.out).toContain(`fatal: reference is not a tree: ${old}`);

    const p = await fresh("old-deep");
    await ok(getSourcesScript(input(p, { sha: old, depth: 8 })));
    expect(git(p, "rev-parse", "HEAD")).toBe(old);
    expect(await readFile(join(p, "file.txt"), "utf8")).toBe("line 1\nline 2\n");
  });

  test("depth 0 on a shallow repo left by an earlier job unshallows it", async () => {
    const p = await fresh("unshallow");
    await ok(getSourcesScript(input(p, { depth: 1 })));
    expect(git(p, "rev-list", "--count", "HEAD")).toBe("1");
    const out = await ok(getSourcesScript(input(p, { depth: 0 })));
    expect(out).toContain("Fetching changes...");
    expect(git(p, "rev-parse", "--is-shallow-repository")).toBe("false");
    expect(git(p, "rev-list", "--count", "HEAD")).toBe(String(fx.mainCommits.length));
  });

  test("submodules, normal: the relative URL resolves on the same server with the job token, one level only", async () => {
    const p = await fresh("sub-normal");
    const out = await ok(getSourcesScript(input(p, { variables: { GIT_SUBMODULE_STRATEGY: "normal" } })));
    expect(out).toContain("Updating/initializing submodules with git depth set to 1...");
    expect(out).toContain("Updated submodules");
    expect(await readFile(join(p, "sub/sub.txt"), "utf8")).toBe("sub\n");
    expect(git(join(p, "sub"), "rev-parse", "HEAD")).toBe(fx.subHead);
    expect(existsSync(join(p, "sub/nested/nested.txt"))).toBe(false);
    expect(git(p, "config", "submodule.sub.url")).toBe(`${server.url}/group/sub.git`);
    expect(server.requests).toContain("POST /group/sub.git/git-upload-pack");
  });

  test("submodules, recursive: nested submodules too", async () => {
    const p = await fresh("sub-recursive");
    const out = await ok(getSourcesScript(input(p, { variables: { GIT_SUBMODULE_STRATEGY: "recursive" } })));
    expect(out).toContain("Updating/initializing submodules recursively with git depth set to 1...");
    expect(await readFile(join(p, "sub/nested/nested.txt"), "utf8")).toBe("nested\n");
    expect(git(join(p, "sub/nested"), "rev-parse", "HEAD")).toBe(fx.nestedHead);
    // a job's own `git pull` inside a submodule authenticates through the included config
    expect(git(join(p, "sub"), "config", "--get-all", "include.path")).toEndWith(".gitlab-runner.ext.conf");
    expect(await readFile(join(p, ".git/modules/sub/config"), "utf8")).not.toContain(TOKEN);
  });

  test("GIT_CHECKOUT=false fetches but leaves the work tree alone", async () => {
    const p = await fresh("nocheckout");
    const out = await ok(
      getSourcesScript(input(p, { allowGitFetch: false, variables: { GIT_CHECKOUT: "false" } })),
    );
    expect(out).toContain("Skipping Git checkout");
    expect(existsSync(join(p, "file.txt"))).toBe(false);
    expect(git(p, "rev-parse", "refs/remotes/origin/main")).toBe(fx.head);
  });

  test("GIT_LFS_SKIP_SMUDGE=1 leaves the LFS pointer in place", async () => {
    const p = await fresh("lfs-skip");
    const lfsRequestsBefore = server.requests.filter((r) => r.includes("lfs")).length;
    // Job variables reach the environment through the stage's exports (the prelude).
    const variables = { GIT_LFS_SKIP_SMUDGE: "1" };
    const out = await ok(
      getSourcesScript(input(p, { variables, writePrelude: (w) => w.export("GIT_LFS_SKIP_SMUDGE", "1") })),
    );
    expect(server.requests.filter((r) => r.includes("lfs")).length).toBe(lfsRequestsBefore);
    expect(out).not.toContain("Pulling LFS");
    expect(await readFile(join(p, fx.lfs.path), "utf8")).toStartWith(
      "version https://git-lfs.github.com/spec/v1",
    );
  });

  test("a wrong job token fails with git's Authentication failed and a non-zero exit", async () => {
    const p = await fresh("badtoken");
    const r = await run(getSourcesScript(input(p, { repoUrl: repoUrl("wrong"), jobToken: "wrong" })));
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`fatal: Authentication failed for '${server.url}/group/project.git/'`);
    expect(r.out).not.toContain("wrong@");
  });

  test("GIT_STRATEGY=none touches nothing; empty wipes the directory", async () => {
    const p = await fresh("none");
    await mkdir(p, { recursive: true });
    await writeFile(join(p, "artifact.bin"), "x");
    const out = await ok(getSourcesScript(input(p, { variables: { GIT_STRATEGY: "none" } })));
    expect(out).toContain("Skipping Git repository setup");
    expect(out).toContain("Skipping Git checkout");
    expect(existsSync(join(p, "artifact.bin"))).toBe(true);
    expect(existsSync(join(p, ".git"))).toBe(false);

    const emptied = await ok(getSourcesScript(input(p, { variables: { GIT_STRATEGY: "empty" } })));
    expect(emptied).toContain("Skipping Git repository setup and creating an empty build directory");
    expect(existsSync(p)).toBe(true);
    expect(existsSync(join(p, "artifact.bin"))).toBe(false);
  });

  test("hostile values stay literal: no command substitution from refs, paths or flags", async () => {
    const marker = join(dir, "pwned");
    const p = await fresh(`x$(touch ${marker})`);
    await ok(
      getSourcesScript(
        input(p, {
          ref: `main$(touch ${marker})`,
          variables: {
            // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell ${IFS} is the attack under test
            GIT_CLEAN_FLAGS: `-ffdx -e $(touch${"${IFS}"}${marker})`,
            GIT_SUBMODULE_STRATEGY: "normal",
          },
          postGetSourcesScript: "echo post-ran",
        }),
      ),
    );
    expect(existsSync(marker)).toBe(false);
    expect(git(p, "rev-parse", "HEAD")).toBe(fx.head);
  });

  test("clear_worktree removes tracked and untracked files so a retry starts clean", async () => {
    const p = await fresh("clear");
    await ok(getSourcesScript(input(p)));
    await writeFile(join(p, "untracked.txt"), "x");
    const out = await ok(clearWorktreeScript(p));
    expect(out).toContain("Deleting tracked and untracked files...");
    expect(existsSync(join(p, "file.txt"))).toBe(false);
    expect(existsSync(join(p, "untracked.txt"))).toBe(false);
    expect(existsSync(join(p, ".git"))).toBe(true);
    await ok(getSourcesScript(input(p)));
    expect(existsSync(join(p, "file.txt"))).toBe(true);
  });

  test("HTTPS with the runner's CA file: exported as GIT_SSL_CAINFO, which beats the machine's own", async () => {
    const certDir = join(dir, "tls");
    await mkdir(certDir, { recursive: true });
    const cert = join(certDir, "server.pem");
    const key = join(certDir, "server.key");
    const gen = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
      ].concat(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert]),
      { stderr: "pipe" },
    );
    expect(gen.exitCode).toBe(0);
    const https = await startGitHttpServer({
      root: fx.root,
      token: TOKEN,
      tls: { cert: await readFile(cert, "utf8"), key: await readFile(key, "utf8") },
    });
    try {
      const over = {
        repoUrl: `https://gitlab-ci-token:${TOKEN}@127.0.0.1:${https.port}/group/project.git`,
        serverUrl: https.url,
      };
      const untrusted = await run(getSourcesScript(input(await fresh("https-no-ca"), over)));
      expect(untrusted.code).not.toBe(0);
      expect(untrusted.out).toContain("server certificate verification failed");

      const p = await fresh("https-ca");
      await ok(getSourcesScript(input(p, { ...over, tls: { caFile: cert } })));
      expect(git(p, "rev-parse", "HEAD")).toBe(fx.head);
      expect(await readFile(join(p, fx.lfs.path), "utf8")).toBe(fx.lfs.content);
    } finally {
      await https.stop();
    }
  });
});
