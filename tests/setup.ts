// Preloaded by `bun test` (bunfig.toml): end-to-end tests start real processes and servers.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(90_000);
