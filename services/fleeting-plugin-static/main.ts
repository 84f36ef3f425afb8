// `fleeting-plugin-static`: the static instance group as a fleeting plugin process (go-plugin over
// gRPC, libs/fleeting/plugin-server.ts), so `plugin = "static"` finds it on PATH as GitLab
// Runner finds `fleeting-plugin-<name>`.
import { servePlugin } from "../../libs/fleeting/plugin-server.ts";
import { StaticGroup } from "./static-group.ts";

await servePlugin((log) => new StaticGroup(log), {
  version: { name: "fleeting-plugin-static", version: "1.0.0", revision: process.env.RUNMESH_REVISION },
});
