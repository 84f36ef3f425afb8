// gRPC server reflection, both sides. go-plugin registers it in every plugin since v1.2.0
// (fleeting-protocol.md §2.3), so a host can ask any plugin for its services and the
// FileDescriptorProtos behind them, and learn fleeting's real schema at run time (§4 step 1).
// Our plugins serve the same (v1alpha and v1), from the schemas they were built with.
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";
import {
  decodeMessage,
  encodeMessage,
  fileDescriptorBytes,
  type ProtoFile,
  rootFromDescriptors,
  schemas,
} from "./plugin-protos.ts";

type ReflectionRequest = {
  fileByFilename?: string;
  fileContainingSymbol?: string;
  listServices?: string;
  messageRequest?: string;
};

/** The reflection services' handlers over `files` (every schema the server serves). */
export function reflectionHandlers(files: readonly ProtoFile[]): grpc.UntypedServiceImplementation {
  const serviceNames = files.flatMap((f) => allServices(f.root).map((s) => s.fullName.replace(/^\./, "")));
  const bytes = new Map(files.map((f) => [f.name, fileDescriptorBytes(f)]));
  const answer = (req: ReflectionRequest) => {
    if (req.messageRequest === "listServices")
      return { listServicesResponse: { service: serviceNames.map((name) => ({ name })) } };
    if (req.messageRequest === "fileByFilename") {
      const b = bytes.get(req.fileByFilename!);
      if (b) return { fileDescriptorResponse: { fileDescriptorProto: [b] } };
      return {
        errorResponse: {
          errorCode: grpc.status.NOT_FOUND,
          errorMessage: `file not found: ${req.fileByFilename}`,
        },
      };
    }
    if (req.messageRequest === "fileContainingSymbol") {
      const sym = req.fileContainingSymbol!;
      const f = files.find((x) => lookupQuiet(x.root, sym));
      if (f) return { fileDescriptorResponse: { fileDescriptorProto: [bytes.get(f.name)!] } };
      return {
        errorResponse: { errorCode: grpc.status.NOT_FOUND, errorMessage: `symbol not found: ${sym}` },
      };
    }
    return { errorResponse: { errorCode: grpc.status.UNIMPLEMENTED, errorMessage: "not implemented" } };
  };
  return {
    ServerReflectionInfo: (call: grpc.ServerDuplexStream<ReflectionRequest, object>) => {
      call.on("data", (req: ReflectionRequest) => call.write({ originalRequest: req, ...answer(req) }));
      call.on("end", () => call.end());
      call.on("error", () => {});
    },
  };
}

function lookupQuiet(root: protobuf.Root, symbol: string): boolean {
  try {
    return root.lookup(symbol) !== null;
  } catch {
    return false;
  }
}

function allServices(ns: protobuf.NamespaceBase): protobuf.Service[] {
  const out: protobuf.Service[] = [];
  for (const n of ns.nestedArray) {
    if ("methodsArray" in n) out.push(n as protobuf.Service);
    else if ("nestedArray" in n) out.push(...allServices(n as protobuf.NamespaceBase));
  }
  return out;
}

export interface ReflectedSchema {
  /** Full names of every service the plugin serves. */
  services: string[];
  /** The schema of `files` with their dependencies. */
  root: protobuf.Root;
  /** Names of the FileDescriptorProtos received (for the golden record). */
  files: string[];
}

/**
 * Asks the server at `channel` for its services, then for the files defining the services whose
 * names `want` accepts (and their imports). Rejects when the server serves no reflection.
 */
export async function reflect(
  client: grpc.Client,
  want: (service: string) => boolean,
  deadlineMs = 10_000,
): Promise<ReflectedSchema> {
  const v1alpha = schemas().reflectionV1alpha.root;
  const Req = v1alpha.lookupType("grpc.reflection.v1alpha.ServerReflectionRequest");
  const Res = v1alpha.lookupType("grpc.reflection.v1alpha.ServerReflectionResponse");
  const call = client.makeBidiStreamRequest(
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    (v: object) => encodeMessage(Req, v),
    (b: Buffer) => decodeMessage(Res, b),
    new grpc.Metadata(),
    { deadline: Date.now() + deadlineMs },
  );
  const pending: ((r: Record<string, unknown>) => void)[] = [];
  let failed: Error | undefined;
  const failures: ((e: Error) => void)[] = [];
  call.on("data", (r: Record<string, unknown>) => pending.shift()?.(r));
  call.on("error", (e: Error) => {
    failed = e;
    for (const f of failures.splice(0)) f(e);
  });
  const ask = (req: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (failed) return reject(failed);
      pending.push(resolve);
      failures.push(reject);
      call.write(req);
    });
  try {
    const list = await ask({ listServices: "" });
    const services = (
      (list.listServicesResponse as { service?: { name: string }[] } | undefined)?.service ?? []
    ).map((s) => s.name);
    const files = new Map<string, Uint8Array>();
    const take = async (req: object, what: string) => {
      const r = await ask(req);
      const fd = r.fileDescriptorResponse as { fileDescriptorProto?: Uint8Array[] } | undefined;
      if (!fd) {
        const e = r.errorResponse as { errorMessage?: string } | undefined;
        throw new Error(`reflection: ${what}: ${e?.errorMessage ?? "no file descriptor in the answer"}`);
      }
      for (const b of fd.fileDescriptorProto ?? []) {
        const d = descriptor.FileDescriptorProto.decode(b) as unknown as {
          name: string;
          dependency?: string[];
        };
        if (files.has(d.name)) continue;
        files.set(d.name, b);
        for (const dep of d.dependency ?? [])
          if (!files.has(dep)) await take({ fileByFilename: dep }, `file ${dep}`);
      }
    };
    for (const s of services.filter(want)) await take({ fileContainingSymbol: s }, `service ${s}`);
    return { services, root: rootFromDescriptors([...files.values()]), files: [...files.keys()] };
  } finally {
    call.end();
    call.cancel();
  }
}
