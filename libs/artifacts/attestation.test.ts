// Attestation metadata against a schema written from the specs: in-toto Statement v0.1
// (github.com/in-toto/attestation spec/v0.1.0: `_type`, `subject[]` of name + digest map,
// `predicateType`, `predicate`) with SLSA Provenance v0.2 (slsa.dev/provenance/v0.2: builder.id,
// buildType, invocation.{configSource{uri,digest,entryPoint},parameters,environment},
// metadata.{buildStartedOn,buildFinishedOn,completeness,reproducible}, materials), narrowed to
// exactly the fields GitLab's "Artifact attestation" table lists (strict: no more, no fewer).
// The round trip goes through the upload stage and the strict test coordinator.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { type Coordinator, startCoordinator } from "../../tests/coordinator/coordinator.ts";
import { type ArtifactEntry, uploadEntry } from "./artifact-upload.ts";
import { type AttestationInputs, buildStatement, metadataFileName, rfc3339 } from "./attestation.ts";
import { extractZip } from "./zip-archive.ts";

const rfc3339Re = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/;
const digestSet = z.record(z.string().regex(/^[a-z0-9-]+$/), z.string().regex(/^[0-9a-f]+$/));

const inTotoStatementV01 = z.strictObject({
  _type: z.literal("https://in-toto.io/Statement/v0.1"),
  subject: z.array(z.strictObject({ name: z.string().min(1), digest: digestSet })),
  predicateType: z.url(),
  predicate: z.unknown(),
});

const slsaProvenanceV02 = z.strictObject({
  buildType: z
    .url()
    .regex(/^https:\/\/gitlab\.com\/gitlab-org\/gitlab-runner\/-\/blob\/[^/]+\/PROVENANCE\.md$/),
  builder: z.strictObject({ id: z.url() }),
  invocation: z.strictObject({
    configSource: z.strictObject({
      uri: z.url(),
      digest: z.strictObject({ sha256: z.string() }),
      entryPoint: z.string(),
    }),
    environment: z.strictObject({ name: z.string(), executor: z.string(), architecture: z.string() }),
    parameters: z.record(z.string(), z.literal("")),
  }),
  metadata: z.strictObject({
    buildStartedOn: z.string().regex(rfc3339Re),
    buildFinishedOn: z.string().regex(rfc3339Re),
    reproducible: z.literal(false),
    completeness: z.strictObject({
      parameters: z.literal(true),
      environment: z.literal(true),
      materials: z.literal(false),
    }),
  }),
  materials: z.array(z.unknown()).length(0),
});

function validate(json: unknown) {
  const statement = inTotoStatementV01.parse(json);
  expect(statement.predicateType).toBe("https://slsa.dev/provenance/v0.2");
  return { ...statement, predicate: slsaProvenanceV02.parse(statement.predicate) };
}

const inputs = (o: Partial<AttestationInputs> = {}): AttestationInputs => ({
  runnerId: "42",
  repoUrl: "https://gitlab.example.com/group/project",
  repoDigest: "f0582e2c9a16b5cc2cde90e8be8f1b50fd67c631",
  jobName: "build job",
  executor: "shell",
  runnerName: "runner-a",
  parameters: ["CI_PIPELINE_ID", "SECRET_TOKEN"],
  startedAt: new Date("2026-01-02T03:04:05Z"),
  endedAt: new Date("2026-01-02T03:05:06Z"),
  version: "v0.1.0",
  ...o,
});

const root = mkdtempSync(join(tmpdir(), "runmesh-attestation-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("attestation statement (pure)", () => {
  test("has exactly the documented fields, values of parameters empty, builder id under the project URL", () => {
    const s = validate(buildStatement(inputs(), [{ name: "a.txt", digest: { sha256: "ab" } }]));
    expect(s.predicate.builder.id).toBe("https://gitlab.example.com/group/project/-/runners/42");
    expect(s.predicate.invocation.parameters).toEqual({ CI_PIPELINE_ID: "", SECRET_TOKEN: "" });
    expect(s.predicate.invocation.configSource.entryPoint).toBe("build job");
    expect(s.predicate.buildType).toBe(
      "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/v0.1.0/PROVENANCE.md",
    );
  });

  test("the schema rejects a statement with a field the table does not list, or a parameter value", () => {
    const s = buildStatement(inputs(), []);
    expect(() => validate({ ...s, extra: 1 })).toThrow();
    const leaked = structuredClone(s);
    leaked.predicate.invocation.parameters.SECRET_TOKEN = "hunter2";
    expect(() => validate(leaked)).toThrow();
    const wrongType = { ...s, _type: "https://in-toto.io/Statement/v1" };
    expect(() => validate(wrongType)).toThrow();
  });

  test.each([
    ["artifacts", "artifacts-metadata.json"],
    ["", "artifacts-metadata.json"],
    ["build output", "build output-metadata.json"],
  ])("metadataFileName(%p) = %p", (name, want) => expect(metadataFileName(name)).toBe(want));

  test("RFC 3339 times carry whole seconds and an offset", () => {
    expect(rfc3339(new Date("2026-01-02T03:04:05.678Z"))).toMatch(rfc3339Re);
  });
});

describe("attestation through the upload stage and the coordinator", () => {
  const TOKEN = "glrt-attestation-unit-0123456789";
  let c: Coordinator;
  beforeAll(async () => {
    c = await startCoordinator({ longPollMs: 0, audit: false });
    c.registerRunner(TOKEN);
  });
  afterAll(() => c.stop());
  const log = () => {
    const lines: string[] = [];
    return {
      lines,
      println: (t: string) => lines.push(t),
      warning: (t: string) => lines.push(t),
      error: (t: string) => lines.push(t),
    };
  };
  const entry = (o: Partial<ArtifactEntry>): ArtifactEntry => ({
    name: "",
    untracked: false,
    paths: [],
    exclude: [],
    artifact_type: "archive",
    artifact_format: "zip",
    expire_in: "",
    ...o,
  });

  test("a zip artifact carries <name>-metadata.json whose subjects are the sha256 of every archived file", async () => {
    const dir = join(root, "project");
    const files: Record<string, string> = {
      "dist/app.js": "console.log(1)\n",
      "dist/sub/data.bin": "\u0000\u0001binary",
      "README.md": "r",
    };
    for (const [p, body] of Object.entries(files)) {
      mkdirSync(join(dir, p, ".."), { recursive: true });
      writeFileSync(join(dir, p), body);
    }
    const job = c.runJob(TOKEN);
    const l = log();
    const error = await uploadEntry(
      {
        baseUrl: c.url,
        jobId: job.id,
        token: job.token,
        projectDir: dir,
        log: l,
        attestation: inputs({ parameters: ["CI_JOB_ID", "DEPLOY_PASSWORD"] }),
      },
      entry({ name: "bundle", paths: ["dist/", "README.md"] }),
    );
    expect(error).toBeUndefined();
    expect(l.lines).toContain("Generating artifacts metadata");
    const uploaded = c.artifacts.uploads.get(job.id)![0]!;
    const zip = join(root, "uploaded.zip");
    writeFileSync(zip, uploaded.bytes);
    const out = join(root, "extracted");
    await extractZip(zip, out);
    const statement = validate(JSON.parse(readFileSync(join(out, "bundle-metadata.json"), "utf8")));
    const sha = (s: string) => createHash("sha256").update(s).digest("hex");
    expect(statement.subject).toEqual(
      ["README.md", "dist/app.js", "dist/sub/data.bin"].map((name) => ({
        name,
        digest: { sha256: sha(files[name]!) },
      })),
    );
    expect(statement.predicate.invocation.parameters).toEqual({ CI_JOB_ID: "", DEPLOY_PASSWORD: "" });
  });

  test("gzip artifacts get no metadata file (GitLab: zip only), and none is written without the variable", async () => {
    const dir = join(root, "gz");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "report.xml"), "<testsuite/>");
    const job = c.runJob(TOKEN);
    const l = log();
    expect(
      await uploadEntry(
        { baseUrl: c.url, jobId: job.id, token: job.token, projectDir: dir, log: l, attestation: inputs() },
        entry({ name: "junit", paths: ["report.xml"], artifact_format: "gzip", artifact_type: "junit" }),
      ),
    ).toBeUndefined();
    expect(l.lines).not.toContain("Generating artifacts metadata");
    expect(
      await uploadEntry(
        { baseUrl: c.url, jobId: job.id, token: job.token, projectDir: dir, log: log() },
        entry({ name: "plain", paths: ["report.xml"] }),
      ),
    ).toBeUndefined();
    const zip = join(root, "plain.zip");
    writeFileSync(zip, c.artifacts.uploads.get(job.id)!.at(-1)!.bytes);
    const out = join(root, "plain-out");
    await extractZip(zip, out);
    expect(() => readFileSync(join(out, "plain-metadata.json"))).toThrow();
  });
});
