// A test plugin: the in-memory instance group served as a separate plugin process, with modes
// for what the host must cope with (FIXTURE_MODE): a schema with other names and field numbers
// (the host must learn it by reflection), no reflection (the host falls back to the built-in
// schema), a plugin that will not exit on Shutdown (the host must kill it), and stdio output.
import { MemoryInstanceGroup } from "../memory-instance-group.ts";
import { INSTANCE_GROUP_PROTO, protoFile } from "../plugin-protos.ts";
import { servePlugin } from "../plugin-server.ts";

const mode = process.env.FIXTURE_MODE ?? "plain";
const unhealthy: string[] = JSON.parse(process.env.FIXTURE_UNHEALTHY ?? "[]");

/** The built-in schema in another package, snake_case names and every field number moved. */
const RENUMBERED = INSTANCE_GROUP_PROTO.replace(
  "package runmesh.fleeting.v1;",
  "package elsewhere.fleeting.v9;",
).replace(/= (\d+);/g, (_m, n: string) => `= ${Number(n) + 20};`);

if (mode === "stubborn") {
  process.exit = (() => {}) as never;
  process.on("SIGTERM", () => {});
  setInterval(() => {}, 1000);
}

await servePlugin(
  (log) => {
    const group = new MemoryInstanceGroup({ idPrefix: "fx", maxSize: 3 });
    const init = group.init.bind(group);
    group.init = async (config, settings) => {
      // After the handshake: these must reach the host through GRPCStdio, not the process pipes.
      console.log("fixture stdout after init");
      console.error("fixture stderr after init");
      log.info("fixture init", { mode });
      return init(config, settings);
    };
    const heartbeat = group.heartbeat.bind(group);
    group.heartbeat = async (id) => {
      if (unhealthy.includes(id)) group.markUnhealthy(id, "marked by the test");
      return heartbeat(id);
    };
    return group;
  },
  {
    version: { name: "fleeting-plugin-fixture", version: "0.0.1" },
    ...(mode === "renumbered"
      ? {
          schema: protoFile("elsewhere/fleeting.proto", RENUMBERED),
          wire: { service: "elsewhere.fleeting.v9.InstanceGroup" },
        }
      : {}),
    ...(mode === "no-reflection" ? { reflection: false } : {}),
  },
);
