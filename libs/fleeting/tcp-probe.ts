// A TCP connect as a cheap liveness probe of an instance's SSH port: what our plugins' Heartbeat
// and the docker group's "sshd is up" check use (fleeting's Heartbeat is a provider-side check).
import { connect } from "node:net";

/** undefined when host:port accepts a TCP connection within `ms`, else why not. */
export function tcpProbe(host: string, port: number, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (why: string | undefined) => {
      s.destroy();
      resolve(why);
    };
    s.setTimeout(ms, () => done(`no answer from ${host}:${port} within ${ms} ms`));
    s.once("connect", () => done(undefined));
    s.once("error", (e) => done(`${host}:${port}: ${e.message}`));
  });
}
