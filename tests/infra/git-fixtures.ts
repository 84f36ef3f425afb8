// Bare repositories for get_sources tests, laid out as on a GitLab server under one root:
//   group/project.git  main: 5 commits of file.txt, submodule `sub` (URL ../sub.git), an
//                      LFS-tracked big.bin, build.sh; tag v1.0 at main; branch feature (+1 commit)
//   group/sub.git      sub.txt and a nested submodule `nested` (URL ../nested.git)
//   group/nested.git   nested.txt
// Submodule URLs are RELATIVE, so they resolve against whatever URL the project is fetched from.
// The LFS object is stored where tests/infra/git-http-server.ts serves it.
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { storeLfsObject } from "./git-http-server.ts";

export interface FixtureRepos {
  /** GIT_PROJECT_ROOT for the HTTP server. */
  root: string;
  projectRepo: string;
  subRepo: string;
  nestedRepo: string;
  /** Project commits on main, oldest first; the last one is main's head and v1.0. */
  mainCommits: string[];
  head: string;
  tag: string;
  feature: string;
  subHead: string;
  nestedHead: string;
  lfs: { path: string; oid: string; size: number; content: string };
}

/** Identity and a config isolated from the machine's, so fixtures are the same everywhere. */
export function fixtureGitEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "ci",
    GIT_AUTHOR_EMAIL: "ci@example.com",
    GIT_COMMITTER_NAME: "ci",
    GIT_COMMITTER_EMAIL: "ci@example.com",
    GIT_AUTHOR_DATE: "2024-01-01T00:00:00Z",
    GIT_COMMITTER_DATE: "2024-01-01T00:00:00Z",
    ...extra,
  };
}

function git(cwd: string, ...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], { cwd, env: fixtureGitEnv(), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    throw new Error(
      `fixture: git ${args.join(" ")} in ${cwd} failed (${r.exitCode}): ${r.stderr.toString()}`,
    );
  }
  return r.stdout.toString().trim();
}

async function commitFile(cwd: string, file: string, content: string, message: string): Promise<string> {
  await writeFile(join(cwd, file), content);
  git(cwd, "add", file);
  git(cwd, "commit", "-q", "-m", message);
  return git(cwd, "rev-parse", "HEAD");
}

export async function createFixtureRepos(dir: string): Promise<FixtureRepos> {
  const root = join(dir, "repos");
  const work = join(dir, "work");
  const group = join(root, "group");
  await mkdir(group, { recursive: true });
  await mkdir(work, { recursive: true });

  const projectRepo = join(group, "project.git");
  const subRepo = join(group, "sub.git");
  const nestedRepo = join(group, "nested.git");
  for (const bare of [projectRepo, subRepo, nestedRepo]) {
    git(root, "init", "-q", "--bare", "-b", "main", bare);
    // Fetch by SHA under protocol v0 too (v2 allows it anyway).
    git(bare, "config", "uploadpack.allowReachableSHA1InWant", "true");
  }

  // nested.git
  const nested = join(work, "nested");
  git(work, "init", "-q", "-b", "main", nested);
  git(nested, "remote", "add", "origin", nestedRepo);
  const nestedHead = await commitFile(nested, "nested.txt", "nested\n", "nested 1");
  git(nested, "push", "-q", "origin", "main");

  // sub.git, with its own relative submodule
  const sub = join(work, "sub");
  git(work, "init", "-q", "-b", "main", sub);
  git(sub, "remote", "add", "origin", subRepo); // so ../nested.git resolves
  await commitFile(sub, "sub.txt", "sub\n", "sub 1");
  git(sub, "-c", "protocol.file.allow=always", "submodule", "add", "-q", "../nested.git", "nested");
  git(sub, "commit", "-q", "-m", "add nested submodule");
  const subHead = git(sub, "rev-parse", "HEAD");
  git(sub, "push", "-q", "origin", "main");

  // project.git
  const project = join(work, "project");
  git(work, "init", "-q", "-b", "main", project);
  git(project, "remote", "add", "origin", projectRepo);
  const mainCommits: string[] = [];
  let text = "";
  for (let i = 1; i <= 5; i++) {
    text += `line ${i}\n`;
    mainCommits.push(await commitFile(project, "file.txt", text, `commit ${i}`));
  }
  git(project, "-c", "protocol.file.allow=always", "submodule", "add", "-q", "../sub.git", "sub");
  git(project, "commit", "-q", "-m", "add submodule");
  mainCommits.push(git(project, "rev-parse", "HEAD"));

  // LFS: the pointer is committed as is; the object goes to the server's store.
  const lfsContent = "large file content served over the LFS batch API\n";
  const oid = createHash("sha256").update(lfsContent).digest("hex");
  const size = Buffer.byteLength(lfsContent);
  await writeFile(join(project, ".gitattributes"), "*.bin filter=lfs diff=lfs merge=lfs -text\n");
  await writeFile(
    join(project, "big.bin"),
    `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${size}\n`,
  );
  git(project, "add", ".gitattributes", "big.bin");
  git(project, "commit", "-q", "-m", "add lfs file");
  mainCommits.push(git(project, "rev-parse", "HEAD"));
  await storeLfsObject(projectRepo, oid, lfsContent);

  mainCommits.push(await commitFile(project, "build.sh", "echo hello\n", "commit 7"));
  git(project, "tag", "v1.0");
  git(project, "checkout", "-q", "-b", "feature");
  const feature = await commitFile(project, "feature.txt", "feature\n", "feature 1");
  git(project, "checkout", "-q", "main");
  git(project, "push", "-q", "origin", "main", "feature", "v1.0");

  const head = mainCommits[mainCommits.length - 1]!;
  return {
    root,
    projectRepo,
    subRepo,
    nestedRepo,
    mainCommits,
    head,
    tag: head,
    feature,
    subHead,
    nestedHead,
    lfs: { path: "big.bin", oid, size, content: lfsContent },
  };
}
