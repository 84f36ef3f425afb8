// What the management verbs (list, verify, unregister, reset-token) need of config.toml: each
// `[[runners]]` entry's identity (name, url, token, id, TLS files) in file order, so that an edit
// can name the entry by its index. Read raw, not through loadConfig: loadConfig skips entries
// without url, token or executor, and these verbs must see (and may remove) exactly those too.
import { readFile } from "node:fs/promises";
import { parse, TomlError } from "smol-toml";
import { z } from "zod";
import { ConfigError } from "../../../libs/config/config-error.ts";
import { goExpandEnv } from "../../../libs/config/go-expand-env.ts";

export interface RunnerRef {
  /** Position among the file's [[runners]] entries. */
  index: number;
  name: string;
  url: string;
  token: string;
  id?: number;
  executor?: string;
  shell?: string;
  tls: { caFile?: string; certFile?: string; keyFile?: string };
}

const entry = z.looseObject({
  name: z.string().optional(),
  url: z.string().optional(),
  token: z.string().optional(),
  id: z.union([z.number(), z.bigint()]).optional(),
  executor: z.string().optional(),
  shell: z.string().optional(),
  "tls-ca-file": z.string().optional(),
  "tls-cert-file": z.string().optional(),
  "tls-key-file": z.string().optional(),
});

export interface ConfigRunners {
  text: string;
  runners: RunnerRef[];
}

/** Reads the file; a missing file is an empty config (GitLab Runner's configfile.Load does the same). */
export async function readConfigRunners(path: string, env = process.env): Promise<ConfigRunners> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { text: "", runners: [] };
    throw new ConfigError([`${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`]);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(text, { integersAsBigInt: "asNeeded" }) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) throw new ConfigError([`${path}:${e.line}:${e.column}: malformed TOML`]);
    throw e;
  }
  const list = Array.isArray(doc.runners) ? doc.runners : [];
  const runners = list.map((raw, index): RunnerRef => {
    const parsed = entry.safeParse(raw);
    if (!parsed.success)
      throw new ConfigError([
        `${path}: runners[${index}]: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`,
      ]);
    const r = parsed.data;
    return {
      index,
      name: r.name ?? "",
      // GitLab Runner 18.10+ expands $VAR in url and token.
      url: goExpandEnv(r.url ?? "", env),
      token: goExpandEnv(r.token ?? "", env),
      id: r.id === undefined ? undefined : Number(r.id),
      executor: r.executor,
      shell: r.shell,
      tls: { caFile: r["tls-ca-file"], certFile: r["tls-cert-file"], keyFile: r["tls-key-file"] },
    };
  });
  return { text, runners };
}

/** GitLab Runner's `network.TokenIsCreatedRunnerToken`: a runner created in GitLab's UI or API. */
export function isCreatedRunnerToken(token: string): boolean {
  return token.startsWith("glrt-");
}
