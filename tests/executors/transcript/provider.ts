// A test-only executor, registered only by tests: it proves that a new executor is its own folder
// plus a registry entry, with no change to the worker, the job model or the scheduler. It runs
// each stage's script in a plain `bash`/`sh` in the job's project tree (no process groups, no
// `su`), keeps a transcript of what it was asked to do, and needs an instance per job (acquire /
// release), as autoscaled executors do. It serves the executor name "custom", a name config.toml
// accepts and runmesh does not ship yet.
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Executor, ImageSpec, StageRun } from "../../../libs/executors/executor.ts";
import type { ExecutorInstance, ExecutorProvider } from "../../../libs/executors/provider.ts";

export interface Transcript {
  acquired: string[];
  released: string[];
  prepared: { buildsDir: string; projectDir: string; instance: string | undefined }[];
  images: { image?: ImageSpec; services?: readonly ImageSpec[] }[];
  stages: Pick<StageRun, "stage" | "kind" | "shell">[];
}

export function transcriptProvider(root: string, transcript: Transcript): ExecutorProvider {
  let instances = 0;
  return {
    name: "custom",
    defaultShell: "sh",
    shells: ["sh", "bash"],
    // This executor runs each job in a disposable tree and can take an image (it ignores it).
    features: { image: true },
    layout: () => ({
      buildsDir: join(root, "builds"),
      cacheDir: join(root, "cache"),
      sharedBuildsDir: false,
      locksDir: join(root, "locks"),
    }),
    acquire: async ({ jobId }) => {
      const instance: ExecutorInstance = { id: `instance-${++instances}-job-${jobId}` };
      transcript.acquired.push(instance.id);
      return instance;
    },
    release: async (instance) => {
      transcript.released.push(instance.id);
    },
    create: ({ instance }) => transcriptExecutor(transcript, instance),
  };
}

function transcriptExecutor(transcript: Transcript, instance: ExecutorInstance | undefined): Executor {
  return {
    name: "custom",
    async prepare(ctx) {
      await mkdir(ctx.projectDir, { recursive: true });
      transcript.prepared.push({
        buildsDir: ctx.buildsDir,
        projectDir: ctx.projectDir,
        instance: instance?.id,
      });
      transcript.images.push({ image: ctx.image, services: ctx.services });
      ctx.log(`Using Transcript executor on ${instance?.id ?? "no instance"}...`);
    },
    run(stage, io, signal) {
      transcript.stages.push({ stage: stage.stage, kind: stage.kind, shell: stage.shell });
      return new Promise((resolve, reject) => {
        const child = spawn(stage.shell, [], { env: { PATH: process.env.PATH, ...stage.env } });
        const onAbort = () => child.kill("SIGKILL");
        signal.addEventListener("abort", onAbort, { once: true });
        child.stdout.on("data", (c: Buffer) => io.onOutput(c, "stdout"));
        child.stderr.on("data", (c: Buffer) => io.onOutput(c, "stderr"));
        child.on("error", reject);
        child.on("close", (code) => {
          signal.removeEventListener("abort", onAbort);
          resolve({ exitCode: code ?? -1, aborted: signal.aborted });
        });
        child.stdin.on("error", () => {});
        child.stdin.end(stage.script);
      });
    },
    async cleanup() {},
  };
}
