// The poller as a tier of a runmesh process (tier-process.ts): what the all-in-one and the
// runmesh-poller binary link for it. It owns config.toml's runner tokens: verify and rotation.

import { watchConfig } from "../../libs/config/config-reload.ts";
import { loadConfig } from "../../libs/config/index.ts";
import { loadOrCreateSystemId } from "../../libs/config/system-id.ts";
import type { PollerTier } from "../runmesh/tier-process.ts";
import { TokenRotator, verifyRunnersAtStart } from "../runmesh/token-rotation.ts";
import { gitlabClientFor, pollTargets, startPollerService } from "./main.ts";

export const pollerTier: PollerTier = {
  configFile: { load: loadConfig, watch: watchConfig },
  start: startPollerService,
  targets: pollTargets,
  clientFor: gitlabClientFor,
  systemId: loadOrCreateSystemId,
  verifyAtStart: verifyRunnersAtStart,
  Rotator: TokenRotator,
};
