// The autoscaler as a tier of a runmesh process (tier-process.ts): what the all-in-one and the
// runmesh-autoscaler binary link for it. The only tier that reads plugin_config, the cloud
// plugin's credentials, and one that keeps no runner token.

import type { AutoscalerTier } from "../runmesh/tier-process.ts";
import { loadAutoscalerConfig, watchAutoscalerConfig } from "./autoscaler-config.ts";
import { autoscaledRunners, reloadAutoscalerPolicies, startAutoscalerService } from "./main.ts";
import { simulateCommand } from "./simulate-command.ts";

export const autoscalerTier: AutoscalerTier = {
  // Runner tokens cut to their short form at read: this tier never talks to GitLab.
  configFile: { load: loadAutoscalerConfig, watch: watchAutoscalerConfig },
  start: startAutoscalerService,
  autoscaled: autoscaledRunners,
  reloadPolicies: reloadAutoscalerPolicies,
  simulate: (args, out) => simulateCommand(args, { loadConfig: loadAutoscalerConfig, out }),
};
