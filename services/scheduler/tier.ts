// The scheduler as a tier of a runmesh process (tier-process.ts): what the all-in-one and the
// runmesh-scheduler binary link for it. It reads config.toml for capacity, never keeps a token.

import { watchConfig } from "../../libs/config/config-reload.ts";
import { loadConfig } from "../../libs/config/index.ts";
import type { SchedulerTier } from "../runmesh/tier-process.ts";
import { runnerCapacities, startSchedulerService } from "./main.ts";

export const schedulerTier: SchedulerTier = {
  configFile: { load: loadConfig, watch: watchConfig },
  start: startSchedulerService,
  capacities: runnerCapacities,
};
