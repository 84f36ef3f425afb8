// The cache-signer as a tier of a runmesh process (tier-process.ts): what the all-in-one and the
// runmesh-cache-signer binary link for it. In `run` it takes the caches of the config the process
// loaded; alone it reads config.toml through its own allowlist (signer-settings.ts).
import { watchConfigFile } from "../../libs/config/config-reload.ts";
import type { CacheSignerTier } from "../runmesh/tier-process.ts";
import { signerCaches } from "./signed-caches.ts";
import { startCacheSigner } from "./signer.ts";
import { loadSignerSettings } from "./signer-settings.ts";

export const cacheSignerTier: CacheSignerTier = {
  caches: signerCaches,
  loadSettings: loadSignerSettings,
  watch: watchConfigFile,
  start: startCacheSigner,
};
