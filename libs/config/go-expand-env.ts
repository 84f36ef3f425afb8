// Go's os.ExpandEnv, because GitLab Runner (18.10+, common/config.go RunnerConfig.loadConfig)
// runs the `url` and `token` of every [[runners]] entry through it after decoding config.toml:
// `token = "$RUNNER_TOKEN"` reads the token from the environment. Same syntax as Go's
// os.Expand, byte for byte: $NAME and ${NAME}; $ followed by no name stays; "${" and "${}" are
// eaten; unset variables become "" (no ${VAR:-default} or other shell forms).

/** Go's isShellSpecialVar: $*, $#, $$, $@, $!, $?, $-, $0 … $9 name one character. */
const isShellSpecialVar = (c: string | undefined) => c !== undefined && /^[*#$@!?\-0-9]$/.test(c);
const isAlphaNum = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

/** Go's getShellName: the name after a "$" and how many characters it spans ("" and 0: none). */
function shellName(s: string): { name: string; width: number } {
  if (s[0] === "{") {
    if (s.length > 2 && isShellSpecialVar(s[1]) && s[2] === "}") return { name: s[1] as string, width: 3 };
    for (let i = 1; i < s.length; i++) {
      if (s[i] === "}") return i === 1 ? { name: "", width: 2 } : { name: s.slice(1, i), width: i + 1 };
    }
    return { name: "", width: 1 };
  }
  if (isShellSpecialVar(s[0])) return { name: s[0] as string, width: 1 };
  let i = 0;
  while (i < s.length && isAlphaNum(s[i])) i++;
  return { name: s.slice(0, i), width: i };
}

/** os.Expand(s, mapping). */
export function goExpand(s: string, mapping: (name: string) => string): string {
  let out = "";
  let from = 0;
  for (let j = 0; j < s.length; j++) {
    if (s[j] !== "$" || j + 1 >= s.length) continue;
    out += s.slice(from, j);
    const { name, width } = shellName(s.slice(j + 1));
    if (name === "" && width > 0) {
      // Bad syntax ("${", "${}"): Go eats it.
    } else if (name === "") out += "$";
    else out += mapping(name);
    j += width;
    from = j + 1;
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
