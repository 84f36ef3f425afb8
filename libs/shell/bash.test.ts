import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANSI, BashWriter, type ShellName, shellQuote } from "./bash.ts";
import {
  afterScript,
  cleanupFileVariablesScript,
  prepareScript,
  type ScriptEnv,
  userScript,
  writeCommands,
  writeExports,
} from "./stage-scripts.ts";

describe("shellQuote", () => {
  test.each([
    ["simple", "simple"],
    ["/a/b-c_d.e", "/a/b-c_d.e"],
    ["", "''"],
    ["two words", "'two words'"],
    ["it's", `'it'\\''s'`],
    ["$HOME `x` $(y) \\n", `'$HOME \`x\` $(y) \\n'`],
    ["line1\nline2", "'line1\nline2'"],
  ])("%j ⇒ %s", (input, expected) => {
    expect(shellQuote(input)).toBe(expected);
  });
});

describe("BashWriter.finish", () => {
  test("wraps the body the way GitLab Runner's bash shell does", () => {
    const w = new BashWriter();
    w.command("echo", "hi there");
    expect(w.finish("sh")).toBe(
      "#!/usr/bin/env sh\n\ntrap exit 1 TERM\n\n" +
        "if set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n" +
        "set +o noclobber\n" +
        ": | (eval 'echo '\\''hi there'\\''\n')\n" +
        "exit 0\n",
    );
  });

  test("bash sets pipefail without GitLab's grep probe, except under the debug trace", () => {
    const w = new BashWriter();
    w.command("echo", "hi");
    expect(w.finish("bash")).toContain("\nset -o pipefail; set -o errexit\n");
    expect(w.finish("bash")).not.toContain("grep");
    expect(w.finish("bash", { trace: true })).toContain(
      "if set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n",
    );
  });

  test("debug trace adds xtrace", () => {
    expect(new BashWriter().finish("sh", { trace: true })).toContain(
      "#!/usr/bin/env sh\n\ntrap exit 1 TERM\n\nset -o xtrace\n",
    );
  });

  test("commands are echoed in bold green with a $ prefix; multi-line ones collapsed", () => {
    const w = new BashWriter();
    writeCommands(w, ["echo hi", "for i in 1 2\ndo echo $i\ndone", ""]);
    expect(w.body()).toBe(
      "printf '%s\\n' '\x1b[32;1m$ echo hi\x1b[0;m'\necho hi\n" +
        "printf '%s\\n' '\x1b[32;1m$ for i in 1 2 # collapsed multi-line command\x1b[0;m'\nfor i in 1 2\ndo echo $i\ndone\n" +
        "echo\n\n",
    );
  });
});

const dir = mkdtempSync(join(tmpdir(), "runmesh-bash-"));
const env = (shell: ShellName, variables: ScriptEnv["variables"] = []): ScriptEnv => ({
  shell,
  variables,
  projectDir: dir,
  tmpDir: `${dir}.tmp`,
});

function execute(shell: ShellName, script: string) {
  const r = spawnSync(shell, [], { input: script, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.each(["bash", "sh"] as const)("generated scripts run under %s", (shell) => {
  test("output, echo lines and a zero exit", () => {
    const r = execute(shell, userScript(env(shell), { commands: ["echo hi"] }));
    expect(r.out).toBe("\x1b[32;1m$ echo hi\x1b[0;m\nhi\n");
    expect(r.code).toBe(0);
  });

  test("the first failing command ends the script with its exit code", () => {
    const r = execute(
      shell,
      userScript(env(shell), { commands: ["echo one", "false || exit 7", "echo never"] }),
    );
    expect(r.code).toBe(7);
    expect(r.out).not.toContain("never");
  });

  test("errexit stops at a failing command", () => {
    const r = execute(shell, userScript(env(shell), { commands: ["ls /definitely/not/here", "echo never"] }));
    expect(r.code).toBe(2);
    expect(r.out).not.toContain("never");
  });

  test("hostile variable values and command text arrive literally", () => {
    const nasty = `a'b"c $HOME \`id\` $(id) \\n \\c ; exit 9`;
    const r = execute(
      shell,
      userScript(
        env(shell, [
          { key: "NASTY", value: nasty },
          { key: "bad-name", value: "skipped" },
        ]),
        {
          commands: [`printf '%s\\n' "$NASTY"`, "echo '$ not expanded \\n'"],
        },
      ),
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${nasty}\n`);
    expect(r.out).toContain("\x1b[32;1m$ echo '$ not expanded \\n'\x1b[0;m\n");
  });

  test("a command reading stdin does not eat the rest of the script", () => {
    const r = execute(shell, userScript(env(shell), { commands: ["cat", "echo still here"] }));
    expect(r.out).toContain("still here\n");
  });

  test("pre and post build scripts wrap the commands", () => {
    const r = execute(
      shell,
      userScript(env(shell), {
        preBuildScript: "echo pre",
        postBuildScript: "echo post",
        commands: ["echo main"],
      }),
    );
    expect(r.out.replaceAll(ANSI.boldGreen, "").replaceAll(ANSI.reset, "")).toBe(
      "$ echo pre\npre\n$ echo main\nmain\n$ echo post\npost\n",
    );
  });

  test("file variables become files; cleanup removes them", () => {
    const vars = [{ key: "CONF", value: "secret\nline2", file: true }];
    const r = execute(shell, afterScript(env(shell, vars), ['cat "$CONF"; echo; echo "$CONF"']));
    expect(r.out).toContain(`secret\nline2\n${dir}.tmp/CONF\n`);
    const c = execute(shell, cleanupFileVariablesScript(env(shell, vars)));
    expect(c.code).toBe(0);
    expect(execute(shell, `test -e ${dir}.tmp/CONF || echo gone`).out).toBe("gone\n");
  });
});

describe.each([false, true])("$GITLAB_ENV's file, debug trace %p", (debugTrace) => {
  const at = (sub: string) => {
    mkdirSync(`${dir}-${sub}`);
    return { ...env("bash"), projectDir: `${dir}-${sub}`, tmpDir: `${dir}-${sub}.tmp` };
  };
  const envFile = (e: ScriptEnv) => `${e.tmpDir}/gitlab_runner_env`;

  test("the first stage makes the tmp dir and the file; later stages keep what was written", () => {
    const e = { ...at(`first-${debugTrace}`), debugTrace };
    const wrote = execute("bash", userScript(e, { commands: ['echo "A=1" >> "$GITLAB_ENV"'] }));
    expect(wrote.code).toBe(0);
    const read = execute("bash", userScript(e, { commands: ['echo "a=$A"'] }));
    expect(read.out).toContain("a=1\n");
    expect(readFileSync(envFile(e), "utf8")).toBe("A=1\n");
  });

  test("prepare_script removes a file a job before left behind; cleanup removes it too", () => {
    const e = { ...at(`prepare-${debugTrace}`), debugTrace };
    execute("bash", userScript(e, { commands: ['echo "A=1" >> "$GITLAB_ENV"'] }));
    expect(existsSync(envFile(e))).toBe(true);
    expect(execute("bash", prepareScript(e)).code).toBe(0);
    expect(existsSync(envFile(e))).toBe(false);
    expect(execute("bash", prepareScript(e)).code).toBe(0); // nothing to remove is no error
    execute("bash", userScript(e, { commands: ["true"] }));
    expect(existsSync(envFile(e))).toBe(true);
    expect(execute("bash", cleanupFileVariablesScript(e)).code).toBe(0);
    expect(existsSync(envFile(e))).toBe(false);
  });
});

test("the debug trace shows GitLab's own lines for $GITLAB_ENV", () => {
  const e = { ...env("bash"), debugTrace: true };
  const w = new BashWriter();
  writeExports(w, e);
  expect(w.body()).toContain(`mkdir -p ${dir}.tmp\ntouch ${dir}.tmp/gitlab_runner_env\n`);
  expect(prepareScript(e)).toContain(`rm -f ${dir}.tmp/gitlab_runner_env`);
});

process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
