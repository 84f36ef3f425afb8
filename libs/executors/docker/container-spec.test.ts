import { describe, expect, test } from "bun:test";
import { dockerSchema } from "../../config/executor-sections.ts";
import {
  buildHostConfig,
  nanoCpus,
  parseDevice,
  ramInBytes,
  sandboxHostConfig,
  serviceHostConfig,
} from "./container-spec.ts";

const settings = (o: Record<string, unknown>) => dockerSchema.parse(o);

describe("sizes and CPUs as Docker reads them", () => {
  test.each([
    ["512m", 536870912],
    ["1g", 1073741824],
    ["1.5k", 1536],
    ["100", 100],
    ["64MiB", 67108864],
  ])("%s → %d bytes", (v, want) => {
    expect(ramInBytes(v)).toBe(want);
  });

  test.each([
    ["1.5", 1_500_000_000],
    ["3/2", 1_500_000_000],
    ["2", 2_000_000_000],
  ])("cpus %s → %d nano CPUs", (v, want) => {
    expect(nanoCpus(v)).toBe(want);
  });
});

describe("host configs from [runners.docker]", () => {
  test("a build container carries the resource, security and device keys; joins the pod", () => {
    const hc = buildHostConfig(
      settings({
        memory: "64m",
        memory_swap: "128m",
        memory_reservation: "32m",
        cpus: "0.5",
        cpuset_cpus: "0",
        cpu_shares: 512,
        cap_add: ["NET_ADMIN"],
        cap_drop: ["MKNOD"],
        security_opt: ["no-new-privileges"],
        devices: ["/dev/fuse", "/dev/kvm:/dev/k:r"],
        ulimit: { nofile: "1024:2048" },
        sysctls: { "net.ipv4.ip_forward": "1" },
        shm_size: 1024,
        tmpfs: { "/scratch": "rw,size=1m" },
        oom_kill_disable: true,
        group_add: ["100"],
        runtime: "runc",
      }),
      { privileged: true, binds: ["v:/builds"], networkMode: "container:abc" },
    );
    expect(hc).toMatchObject({
      Binds: ["v:/builds"],
      NetworkMode: "container:abc",
      Init: true,
      Privileged: true,
      Memory: 67108864,
      MemorySwap: 134217728,
      MemoryReservation: 33554432,
      NanoCpus: 500_000_000,
      CpusetCpus: "0",
      CpuShares: 512,
      CapAdd: ["NET_ADMIN"],
      CapDrop: ["MKNOD"],
      SecurityOpt: ["no-new-privileges"],
      Devices: [
        { PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm" },
        { PathOnHost: "/dev/kvm", PathInContainer: "/dev/k", CgroupPermissions: "r" },
      ],
      Ulimits: [{ Name: "nofile", Soft: 1024, Hard: 2048 }],
      Sysctls: { "net.ipv4.ip_forward": "1" },
      ShmSize: 1024,
      Tmpfs: { "/scratch": "rw,size=1m" },
      OomKillDisable: true,
      GroupAdd: ["100"],
      Runtime: "runc",
    });
    // Nothing Docker refuses on a container that joins another's namespace.
    expect(hc).not.toHaveProperty("ExtraHosts");
    expect(hc).not.toHaveProperty("Dns");
  });

  test("privileged is what the caller decided (allowed_privileged_images); unset keys stay out", () => {
    const hc = buildHostConfig(settings({}), { privileged: false, binds: [], networkMode: "none" });
    expect(hc.Privileged).toBe(false);
    expect(Object.keys(hc).sort()).toEqual([
      "Binds",
      "Init",
      "LogConfig",
      "NetworkMode",
      "Privileged",
      "RestartPolicy",
    ]);
  });

  test("the sandbox owns hostname-free network settings: extra_hosts plus one line per alias, dns", () => {
    const hc = sandboxHostConfig(
      settings({ extra_hosts: ["gitlab.local:127.0.0.1"], dns: ["127.0.0.53"], dns_search: ["corp"] }),
      { networkMode: "none", aliases: ["db", "pg"] },
    );
    expect(hc).toMatchObject({
      NetworkMode: "none",
      ExtraHosts: ["gitlab.local:127.0.0.1", "db:127.0.0.1", "pg:127.0.0.1"],
      Dns: ["127.0.0.53"],
      DnsSearch: ["corp"],
    });
  });

  test("services take the service_* limits and services_tmpfs, not the build's", () => {
    const hc = serviceHostConfig(
      settings({
        memory: "1g",
        service_memory: "64m",
        service_cpus: "1",
        services_tmpfs: { "/var/lib/db": "rw" },
      }),
      { privileged: false, networkMode: "container:s" },
    );
    expect(hc).toMatchObject({ Memory: 67108864, NanoCpus: 1e9, Tmpfs: { "/var/lib/db": "rw" } });
  });

  test("a device string with too many colons is refused as GitLab Runner refuses it", () => {
    expect(() => parseDevice("a:b:c:d")).toThrow('failed to parse device string "a:b:c:d": too many colons');
  });
});
