import pkg from "../../package.json" with { type: "json" };

export const RUNMESH_VERSION: string = pkg.version;
/** Set at build time by `just build` (RUNMESH_REVISION); "dev" when run from source. */
export const RUNMESH_REVISION: string = process.env.RUNMESH_REVISION ?? "dev";
