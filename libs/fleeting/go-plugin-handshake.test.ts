import { describe, expect, test } from "bun:test";
import { handshakeLine, negotiateVersion, parseHandshakeLine, pluginEnv } from "./go-plugin-handshake.ts";
import { fleetingWire, RUNMESH_WIRE } from "./plugin-constants.ts";

describe("go-plugin handshake", () => {
  test.each([
    ["highest common", [1, 2, 3], [2, 3, 4], 3],
    ["host offers one", [1], [1, 2], 1],
    ["none common: the plugin's lowest", [5], [2, 3], 2],
    ["unsorted lists", [3, 1, 2], [1, 3], 3],
  ])("negotiation picks %s", (_name, host, plugin, want) => {
    expect(negotiateVersion(host, plugin)).toBe(want);
  });

  test("the Linux line go-plugin prints without AutoMTLS ends in an empty certificate field", () => {
    expect(handshakeLine({ appVersion: 2, network: "unix", address: "/tmp/plugin123" })).toBe(
      "1|2|unix|/tmp/plugin123|grpc|",
    );
  });

  test.each([
    ["1|1|unix|/tmp/plugin9|grpc|", { appVersion: 1, network: "unix", address: "/tmp/plugin9" }],
    ["1|1|tcp|127.0.0.1:1234|grpc", { network: "tcp", address: "127.0.0.1:1234" }],
    ["1|1|unix|/tmp/p|grpc||true", { multiplex: true }],
  ])("parses %s", (line, want) => {
    expect(parseHandshakeLine(line, [1])).toMatchObject(want);
  });

  test.each([
    ["hello", "Unrecognized remote plugin message: hello"],
    ["2|1|unix|/tmp/p|grpc|", "Incompatible core API version with plugin. Plugin version: 2"],
    [
      "1|3|unix|/tmp/p|grpc|",
      "Incompatible API version with plugin. Plugin version: 3, Client versions: [1 2]",
    ],
    ["1|1|pipe|/tmp/p|grpc|", "Unknown address type: pipe"],
    ["1|1|unix|/tmp/p", 'Unsupported plugin protocol "netrpc"'],
    ["1|1|unix|/tmp/p|netrpc|", 'Unsupported plugin protocol "netrpc"'],
  ])("refuses %s", (line, message) => {
    expect(() => parseHandshakeLine(line, [1, 2])).toThrow(message);
  });

  test("a short sixth field is no certificate; a long one is", () => {
    expect(parseHandshakeLine("1|1|unix|/p|grpc|x", [1]).serverCert).toBeUndefined();
    expect(parseHandshakeLine(`1|1|unix|/p|grpc|${"A".repeat(60)}`, [1]).serverCert).toHaveLength(60);
  });

  test("the plugin's environment carries the cookie, the offered versions and the socket dir", () => {
    const env = pluginEnv({ ...RUNMESH_WIRE, protocolVersions: [1, 2] }, { socketDir: "/run/x" });
    expect(env).toMatchObject({
      [RUNMESH_WIRE.cookieKey]: RUNMESH_WIRE.cookieValue,
      PLUGIN_PROTOCOL_VERSIONS: "1,2",
      PLUGIN_UNIX_SOCKET_DIR: "/run/x",
      PLUGIN_MIN_PORT: "0",
    });
  });

  test("the unknown constants come from the environment and then the options, over runmesh's", () => {
    const wire = fleetingWire(
      { RUNMESH_FLEETING_COOKIE_KEY: "FLEETING_X", RUNMESH_FLEETING_PROTOCOL_VERSIONS: "1, 3" },
      { cookieValue: "v" },
    );
    expect(wire).toEqual({
      cookieKey: "FLEETING_X",
      cookieValue: "v",
      protocolVersions: [1, 3],
      service: RUNMESH_WIRE.service,
    });
    expect(() => fleetingWire({ RUNMESH_FLEETING_PROTOCOL_VERSIONS: "one" })).toThrow(
      'RUNMESH_FLEETING_PROTOCOL_VERSIONS: expected comma-separated versions like "1,2", got "one"',
    );
  });
});
