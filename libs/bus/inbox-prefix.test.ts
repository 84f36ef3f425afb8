// Replies come back under a prefix of the identity's own (deploy/nats/identities.conf lets each
// user subscribe to `_INBOX_<user>.>` only): derived from the user name, or set outright.
import { expect, test } from "bun:test";
import { inboxPrefixFor } from "./connect.ts";

test.each([
  [{}, undefined],
  [{ nats_user: "worker-1" }, "_INBOX_worker-1"],
  [{ nats_user: "cache-signer" }, "_INBOX_cache-signer"],
  [{ nats_user: "ci.worker 2" }, "_INBOX_ci_worker_2"],
  [{ nats_user: "worker-1", nats_inbox_prefix: "_INBOX_custom" }, "_INBOX_custom"],
  [{ nats_creds_file: "/etc/runmesh/worker.creds", nats_inbox_prefix: "_INBOX_w9" }, "_INBOX_w9"],
])("inbox prefix for %j is %p", (mesh, want) => expect(inboxPrefixFor(mesh)).toBe(want));
