// The autoscaler as a tier of a runmesh process (tier-process.ts): what the all-in-one and the
// runmesh-autoscaler binary link for it. The only tier that reads plugin_config, the cloud
// plugin's credentials.

import { watchConfig } from "../../libs/config/config-reload.ts";
import { loadConfig } from "../../libs/config/index.ts";
import type { AutoscalerTier } from "../runmesh/tier-process.ts";
import { autoscaledRunners, startAutoscalerService } from "./main.ts";
import { simulateCommand } from "./simulate-command.ts";

export const autoscalerTier: AutoscalerTier = {
  configFile: { load: loadConfig, watch: watchConfig },
  start: startAutoscalerService,
  autoscaled: autoscaledRunners,
  simulate: (args, out) => simulateCommand(args, { loadConfig, out }),
};
