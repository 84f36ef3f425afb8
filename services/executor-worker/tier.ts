// The executor worker as a tier of a runmesh process (tier-process.ts): what the all-in-one and
// the runmesh-worker binary link for it. It reads [mesh] settings only, never config.toml's runners.
import type { WorkerTier } from "../runmesh/tier-process.ts";
import { startWorkerService, workerDataDir, workerExecutors } from "./main.ts";
import { loadMeshSettings } from "./mesh-settings.ts";
import { resolveWorkerId } from "./worker-id.ts";

export const workerTier: WorkerTier = {
  loadSettings: loadMeshSettings,
  executors: workerExecutors,
  dataDir: workerDataDir,
  resolveId: resolveWorkerId,
  start: startWorkerService,
};
