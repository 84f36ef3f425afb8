// Artifact attestation (RUNNER_GENERATE_ARTIFACTS_METADATA): an in-toto Statement v0.1 with a
// SLSA Provenance v0.2 predicate, written as `<artifact name>-metadata.json` into the project
// dir and archived with the entry, as GitLab Runner's commands/helpers/artifact_metadata.go
// does, with the fields GitLab's "Artifact attestation" page lists (parameters: the names of the
// job's variables, every value "" so no secret leaves; materials empty; reproducible false).
// Only zip artifacts get one (GitLab: the metadata file has to go into the archive).
// Where GitLab Runner's Go struct puts `metadata` and `materials` beside `predicate`, runmesh
// puts them inside it, where SLSA Provenance v0.2 and the documented example have them.
import { createHash } from "node:crypto";
import { createReadStream, lstatSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1";
export const PREDICATE_TYPE = "https://slsa.dev/provenance/v0.2";

/** What the statement says about the job, gathered by the upload stage. */
export interface AttestationInputs {
  /** CI_RUNNER_ID. */
  runnerId: string;
  /** The project's URL: the clone URL without credentials and without `.git`. */
  repoUrl: string;
  /** The commit (CI_COMMIT_SHA); GitLab files it under digest.sha256. */
  repoDigest: string;
  jobName: string;
  executor: string;
  runnerName: string;
  /** Names of the job's variables (values are never taken). */
  parameters: readonly string[];
  startedAt: Date;
  endedAt: Date;
  /** GitLab Runner's version tag (buildType); runmesh's own version. */
  version: string;
}

export interface Subject {
  name: string;
  digest: { sha256: string };
}

export interface Statement {
  _type: string;
  subject: Subject[];
  predicateType: string;
  predicate: {
    buildType: string;
    builder: { id: string };
    invocation: {
      configSource: { uri: string; digest: { sha256: string }; entryPoint: string };
      environment: { name: string; executor: string; architecture: string };
      parameters: Record<string, string>;
    };
    metadata: {
      buildStartedOn: string;
      buildFinishedOn: string;
      reproducible: boolean;
      completeness: { parameters: boolean; environment: boolean; materials: boolean };
    };
    materials: unknown[];
  };
}

/** Go's runtime.GOARCH for this process (GitLab prints amd64, arm64, …). */
export function goArch(arch: string = process.arch): string {
  return (
    ({ x64: "amd64", ia32: "386", arm: "arm", arm64: "arm64", ppc64: "ppc64le", s390x: "s390x" } as const)[
      arch as "x64"
    ] ?? arch
  );
}

/** RFC 3339 with the local offset and whole seconds, as Go's time.RFC3339 formats it. */
export function rfc3339(d: Date): string {
  const off = -d.getTimezoneOffset();
  const pad = (n: number) => String(Math.abs(n)).padStart(2, "0");
  const zone = off === 0 ? "Z" : `${off > 0 ? "+" : "-"}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}:${pad(d.getSeconds())}${zone}`;
}

/** The statement for `subjects` (pure; digests already computed). */
export function buildStatement(inputs: AttestationInputs, subjects: Subject[]): Statement {
  return {
    _type: STATEMENT_TYPE,
    subject: subjects,
    predicateType: PREDICATE_TYPE,
    predicate: {
      buildType: `https://gitlab.com/gitlab-org/gitlab-runner/-/blob/${inputs.version}/PROVENANCE.md`,
      builder: { id: `${inputs.repoUrl}/-/runners/${inputs.runnerId}` },
      invocation: {
        configSource: {
          uri: inputs.repoUrl,
          digest: { sha256: inputs.repoDigest },
          entryPoint: inputs.jobName,
        },
        environment: { name: inputs.runnerName, executor: inputs.executor, architecture: goArch() },
        parameters: Object.fromEntries(inputs.parameters.map((k) => [k, ""])),
      },
      metadata: {
        buildStartedOn: rfc3339(inputs.startedAt),
        buildFinishedOn: rfc3339(inputs.endedAt),
        reproducible: false,
        completeness: { parameters: true, environment: true, materials: false },
      },
      materials: [],
    },
  };
}

async function sha256Of(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** `<name>-metadata.json` (GitLab: `artifacts-metadata.json` when the entry has no name). */
export function metadataFileName(artifactName: string): string {
  return `${(artifactName || "artifacts").replaceAll("/", "_")}-metadata.json`;
}

/**
 * Hashes every regular file of `files` (relative to `projectDir`), writes the statement into
 * the project dir and returns its relative name, to be archived with the files.
 */
export async function writeAttestation(
  projectDir: string,
  files: readonly string[],
  artifactName: string,
  inputs: AttestationInputs,
): Promise<string> {
  const subjects: Subject[] = [];
  for (const rel of files) {
    const abs = join(projectDir, rel);
    if (!lstatSync(abs).isFile()) continue;
    subjects.push({ name: rel, digest: { sha256: await sha256Of(abs) } });
  }
  const name = metadataFileName(artifactName);
  writeFileSync(join(projectDir, name), JSON.stringify(buildStatement(inputs, subjects), null, " "));
  return name;
}
