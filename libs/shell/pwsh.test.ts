import { describe, expect, test } from "bun:test";
import { PS_CHECK_ERROR, psQuote, pwshAfterScript, pwshUserScript } from "./pwsh.ts";

describe("psQuote", () => {
  test.each([
    ["plain", '"plain"'],
    ['say "hi"', '"say `"hi`""'],
    ["$HOME and `tick`", '"`$HOME and ``tick``"'],
    ["a\nb\tc", '"a`nb`tc"'],
    ["\x1b[32;1m", '"`e[32;1m"'],
  ])("%j ⇒ %s", (input, expected) => {
    expect(psQuote(input)).toBe(expected);
  });
});

describe("pwsh scripts", () => {
  const env = {
    variables: [
      { key: "GREETING", value: 'hello "$USER"' },
      { key: "SECRET_FILE", value: "pem", file: true },
      { key: "not-an-identifier", value: "x" },
    ],
    projectDir: "/builds/g/p",
    tmpDir: "/builds/g/p.tmp",
  };

  test("variables become PowerShell and environment variables; file variables hold their path", () => {
    const s = pwshUserScript(env, { commands: ["echo $env:GREETING"] });
    expect(s).toContain('$GREETING="hello `"`$USER`""\n$env:GREETING=$GREETING\n');
    expect(s).toContain('[System.IO.File]::WriteAllText("/builds/g/p.tmp/SECRET_FILE", "pem")\n');
    expect(s).toContain('$SECRET_FILE="/builds/g/p.tmp/SECRET_FILE"\n$env:SECRET_FILE=$SECRET_FILE\n');
    expect(s).not.toContain("not-an-identifier");
  });

  test("each command is echoed, run and followed by the exit-code check, inside GitLab's wrapper", () => {
    const s = pwshUserScript(env, {
      commands: ["Write-Host one", "multi\nline"],
      preBuildScript: "pre",
      postBuildScript: "post",
    });
    expect(s.startsWith('& {\n$ErrorActionPreference = "Stop"\n')).toBe(true);
    expect(s.endsWith(`}\n${PS_CHECK_ERROR}\n`)).toBe(true);
    expect(s).toContain(`echo "\`e[32;1m\`$ Write-Host one\`e[0;m"\nWrite-Host one\n${PS_CHECK_ERROR}\n`);
    expect(s).toContain('echo "`e[32;1m`$ multi # collapsed multi-line command`e[0;m"\nmulti\nline\n');
    const order = ["$ pre", "$ Write-Host one", "$ post"].map((x) => s.indexOf(x));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(s).toContain(`cd "/builds/g/p"\n${PS_CHECK_ERROR}\n`);
  });

  test("after_script announces itself; debug trace turns on Set-PSDebug", () => {
    const s = pwshAfterScript({ ...env, debugTrace: true }, ["cleanup"]);
    expect(s).toContain('echo "`e[32;1mRunning after script...`e[0;m"');
    expect(s).toContain("Set-PSDebug -Trace 2\n");
    expect(pwshAfterScript(env, ["x"])).not.toContain("Set-PSDebug");
  });
});
