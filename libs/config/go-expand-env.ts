// Go's os.ExpandEnv, because GitLab Runner (18.10+, common/config.go RunnerConfig.loadConfig)
// runs the `url` and `token` of every [[runners]] entry through it after decoding config.toml:
// `token = "$RUNNER_TOKEN"` reads the token from the environment. Same syntax as Go's
// os.Expand, byte for byte: $NAME and ${NAME}; $ followed by no name stays; "${" and "${}" are
// eaten; unset variables become "" (no ${VAR:-default} or other shell forms).

/** Go's isShellSpecialVar: $*, $#, $$, $@, $!, $?, $-, $0 … $9 name one character. */
const isShellSpecialVar = (c: string | undefined) => c !== undefined && /^[*#$@!?\-0-9]$/.test(c);
const isAlphaNum = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

/** Go's getShellName for the name starting at `at`: the name, and how many characters it spans. */
function shellName(s: string, at: number): { name: string; width: number } {
  if (s[at] === "{") {
    if (s.length > at + 2 && isShellSpecialVar(s[at + 1]) && s[at + 2] === "}")
      return { name: s[at + 1] as string, width: 3 };
    const close = s.indexOf("}", at + 1);
    if (close < 0) return { name: "", width: 1 };
    return close === at + 1
      ? { name: "", width: 2 }
      : { name: s.slice(at + 1, close), width: close - at + 1 };
  }
  if (isShellSpecialVar(s[at])) return { name: s[at] as string, width: 1 };
  let i = at;
  while (i < s.length && isAlphaNum(s[i])) i++;
  return { name: s.slice(at, i), width: i - at };
}

/**
 * os.Expand(s, mapping). Linear in the length of s (a 20 MiB job variable full of `$` must not
 * take quadratic time): it jumps from one `$` to the next.
 */
export function goExpand(s: string, mapping: (name: string) => string): string {
  let next = s.indexOf("$");
  if (next < 0) return s;
  let out = "";
  let from = 0;
  while (next >= 0 && next + 1 < s.length) {
    out += s.slice(from, next);
    const { name, width } = shellName(s, next + 1);
    if (name === "" && width > 0) {
      // Bad syntax ("${", "${}"): Go eats it.
    } else if (name === "") out += "$";
    else out += mapping(name);
    from = next + 1 + width;
    next = s.indexOf("$", from);
  }
  return out + s.slice(from);
}

/** The names `goExpand` would look up in s, in order (to say which ones are unset). */
export function expandedNames(s: string): string[] {
  const names: string[] = [];
  goExpand(s, (name) => {
    names.push(name);
    return "";
  });
  return names;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** os.ExpandEnv against `env` (process.env unless given). */
export function goExpandEnv(s: string, env: Environment = process.env): string {
  return goExpand(s, (name) => env[name] ?? "");
}
