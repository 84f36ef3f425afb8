// natsIdentity (tier-process.ts): a tier's NATS user, password and TLS CA from its environment
// over [mesh], as compose.yaml gives them (deploy/compose/bootstrap.ts writes the files).
import { expect, test } from "bun:test";
import { natsIdentity } from "./tier-process.ts";

const mesh = { nats_url: "tls://nats:4222", nats_user: "from-mesh", nats_password: "mesh-pw" };

test.each([
  ["no identity in the environment: [mesh] as it is", {}, mesh],
  [
    "RUNMESH_NATS_USER and _PASSWORD replace [mesh]'s",
    { RUNMESH_NATS_USER: "poller", RUNMESH_NATS_PASSWORD: "pw" },
    { ...mesh, nats_user: "poller", nats_password: "pw" },
  ],
  [
    "RUNMESH_NATS_TLS_CA_FILE sets the CA, with or without a user",
    { RUNMESH_NATS_TLS_CA_FILE: "/etc/runmesh/nats-ca.pem" },
    { ...mesh, nats_tls_ca_file: "/etc/runmesh/nats-ca.pem" },
  ],
  [
    "all three together",
    { RUNMESH_NATS_USER: "worker-2", RUNMESH_NATS_PASSWORD: "w2", RUNMESH_NATS_TLS_CA_FILE: "/ca.pem" },
    { ...mesh, nats_user: "worker-2", nats_password: "w2", nats_tls_ca_file: "/ca.pem" },
  ],
])("%s", (_, env: Record<string, string>, expected) => {
  expect(natsIdentity(mesh, env)).toEqual(expected);
});
