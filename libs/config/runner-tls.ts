// Which TLS files a runner entry uses to talk to GitLab. As in GitLab Runner's network client:
// tls-ca-file / tls-cert-file / tls-key-file win; otherwise <host>.crt, <host>.auth.crt and
// <host>.auth.key from the certs directory are used when they exist.
//
// Note for whoever runs git for a job: this machine exports GIT_SSL_CAINFO, which overrides git's
// http.sslCAInfo. Set GIT_SSL_CAINFO explicitly (to the resolved caFile, or unset it) in the
// environment of every git command, or git silently verifies against the wrong CA bundle.
import { statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface RunnerTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** GitLab Runner's certificate directory: /etc/gitlab-runner/certs/ as root, ~/.gitlab-runner/certs/ otherwise. */
export function defaultCertsDir(uid = process.getuid?.() ?? 0, home = homedir()): string {
  return uid === 0 ? "/etc/gitlab-runner/certs/" : join(home, ".gitlab-runner", "certs/");
}

function existingFile(path: string): string | undefined {
  try {
    return statSync(path).isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}

export function resolveRunnerTls(
  runner: { url: string; "tls-ca-file"?: string; "tls-cert-file"?: string; "tls-key-file"?: string },
  certsDir: string,
): RunnerTlsFiles {
  // Go's url.Hostname(): no port, no IPv6 brackets.
  const host = new URL(runner.url).hostname.replace(/^\[(.*)\]$/, "$1");
  const fromDir = (suffix: string) => existingFile(join(certsDir, `${host}${suffix}`));
  const files: RunnerTlsFiles = {};
  const caFile = runner["tls-ca-file"] ?? fromDir(".crt");
  const certFile = runner["tls-cert-file"] ?? fromDir(".auth.crt");
  const keyFile = runner["tls-key-file"] ?? fromDir(".auth.key");
  if (caFile) files.caFile = caFile;
  if (certFile) files.certFile = certFile;
  if (keyFile) files.keyFile = keyFile;
  return files;
}
