// `fleeting-plugin-docker`: the docker instance group as a fleeting plugin process (go-plugin over
// gRPC, libs/fleeting/plugin-server.ts), so `plugin = "docker"` finds it on PATH as GitLab Runner
// finds `fleeting-plugin-<name>`.
import { servePlugin } from "../../libs/fleeting/plugin-server.ts";
import { DockerGroup } from "./docker-group.ts";

await servePlugin((log) => new DockerGroup(log), {
  version: { name: "fleeting-plugin-docker", version: "1.0.0", revision: process.env.RUNMESH_REVISION },
});
