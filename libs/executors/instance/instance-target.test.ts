import { describe, expect, test } from "bun:test";
import { connectorConfigSchema } from "../../config/autoscaler-section.ts";
import { type InstanceConnectInfo, instanceTarget, splitHostPort } from "./instance-target.ts";

const cc = (o: Record<string, unknown>) => connectorConfigSchema.parse(o);
const info = (o: Partial<InstanceConnectInfo> = {}): InstanceConnectInfo => ({
  id: "i-1",
  protocol: "ssh",
  username: "plugin-user",
  key: "PLUGIN KEY",
  internalAddr: "10.0.0.5",
  externalAddr: "203.0.113.9:2222",
  ...o,
});

describe("instanceTarget", () => {
  test.each([
    ["internal address by default, port 22", info(), undefined, { host: "10.0.0.5", port: 22 }],
    [
      "use_external_addr: the external one with its port",
      info(),
      cc({ use_external_addr: true }),
      { host: "203.0.113.9", port: 2222 },
    ],
    [
      "protocol_port of the plugin wins over the address's",
      info({ protocolPort: 42401 }),
      cc({ use_external_addr: true }),
      { host: "203.0.113.9", port: 42401 },
    ],
    [
      "connector protocol_port when the plugin gives none",
      info(),
      cc({ protocol_port: 2200 }),
      { host: "10.0.0.5", port: 2200 },
    ],
    [
      "only an external address: taken even without use_external_addr",
      info({ internalAddr: undefined }),
      undefined,
      { host: "203.0.113.9", port: 2222 },
    ],
  ])("%s", (_, i, c, want) => {
    expect(instanceTarget(i, c, "r").target).toMatchObject({ ...want, strictHostKeyChecking: false });
  });

  test("credentials: the plugin's unless use_static_credentials, then the connector's", () => {
    const dynamic = instanceTarget(info(), cc({ username: "cfg", key_path: "/k" }), "r");
    expect({ user: dynamic.target.user, key: dynamic.key, keyPath: dynamic.keyPath }).toEqual({
      user: "plugin-user",
      key: "PLUGIN KEY",
      keyPath: undefined,
    });
    const fixed = instanceTarget(
      info(),
      cc({ username: "cfg", key_path: "/k", use_static_credentials: true }),
      "r",
    );
    expect({ user: fixed.target.user, key: fixed.key, keyPath: fixed.keyPath }).toEqual({
      user: "cfg",
      key: undefined,
      keyPath: "/k",
    });
    const noKey = instanceTarget(info({ key: undefined, username: undefined }), cc({ key_path: "/k" }), "r");
    expect({ user: noKey.target.user, keyPath: noKey.keyPath }).toEqual({ user: "root", keyPath: "/k" });
  });

  test("keepalive and timeout from connector_config as durations", () => {
    const t = instanceTarget(info({ keepaliveMs: 5000 }), cc({ timeout: "20s" }), "r").target;
    expect({ k: t.keepaliveIntervalMs, t: t.connectTimeoutMs }).toEqual({ k: 5000, t: 20_000 });
  });

  test("refuses winrm and an instance without address, naming the runner and instance", () => {
    expect(() => instanceTarget(info({ protocol: "winrm" }), undefined, "fleet")).toThrow(
      'runner "fleet": instance i-1: protocol "winrm": the instance executor connects over "ssh" only',
    );
    expect(() =>
      instanceTarget(info({ internalAddr: undefined, externalAddr: undefined }), undefined, "fleet"),
    ).toThrow('runner "fleet": instance i-1: the plugin gave no address');
  });

  test.each([
    ["10.0.0.1", { host: "10.0.0.1" }],
    ["10.0.0.1:2222", { host: "10.0.0.1", port: 2222 }],
    ["[::1]:22", { host: "::1", port: 22 }],
    ["fe80::1", { host: "fe80::1" }],
  ])("splitHostPort(%p)", (addr, want) => {
    expect(splitHostPort(addr)).toEqual(want);
  });
});
