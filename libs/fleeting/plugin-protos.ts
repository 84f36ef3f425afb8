// The .proto schemas on the plugin wire, as text compiled by protobufjs at load (a compiled Bun
// binary carries no .proto files): go-plugin's own services [V GP: grpc_controller.proto,
// grpc_stdio.proto], gRPC health and server reflection [V grpc], and runmesh's InstanceGroup
// service, autoscaling.md §1.2.6's design. That last one is not fleeting's (its .proto is not
// public here, fleeting-protocol.md §3.4): a host learns a plugin's real schema through
// reflection and only falls back to this one.
import type * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";

export const INSTANCE_GROUP_PROTO = `
syntax = "proto3";
package runmesh.fleeting.v1;

message ConnectorConfig {
  string os = 1;
  string arch = 2;
  string protocol = 3;
  int32 protocol_port = 4;
  string username = 5;
  string password = 6;
  bytes key = 7;
  bool use_static_credentials = 8;
  int64 keepalive_ms = 9;
  int64 timeout_ms = 10;
}
message Settings { ConnectorConfig connector_config = 1; }
message ProviderInfo {
  string id = 1;
  int64 max_size = 2;
  string version = 3;
  string build_info = 4;
  repeated string capabilities = 5;
}
message InitRequest { bytes config = 1; Settings settings = 2; }
message InitResponse { ProviderInfo info = 1; }
message UpdateRequest {}
message Instance { string id = 1; string state = 2; }
message UpdateResponse { repeated Instance instances = 1; }
message IncreaseRequest { int32 delta = 1; }
message IncreaseResponse { int32 succeeded = 1; string error = 2; }
message DecreaseRequest { repeated string instances = 1; }
message DecreaseResponse { repeated string succeeded = 1; string error = 2; }
message ConnectInfoRequest { string id = 1; }
message ConnectInfoResponse {
  ConnectorConfig connector_config = 1;
  string id = 2;
  string external_addr = 3;
  string internal_addr = 4;
  int64 expires_unix_ms = 5;
}
message HeartbeatRequest { string id = 1; }
message HeartbeatResponse {}
message ShutdownRequest {}
message ShutdownResponse {}

service InstanceGroup {
  rpc Init(InitRequest) returns (InitResponse);
  rpc Update(UpdateRequest) returns (UpdateResponse);
  rpc Increase(IncreaseRequest) returns (IncreaseResponse);
  rpc Decrease(DecreaseRequest) returns (DecreaseResponse);
  rpc ConnectInfo(ConnectInfoRequest) returns (ConnectInfoResponse);
  rpc Heartbeat(HeartbeatRequest) returns (HeartbeatResponse);
  rpc Shutdown(ShutdownRequest) returns (ShutdownResponse);
}
`;

/** go-plugin's internal/plugin/grpc_controller.proto and grpc_stdio.proto (Empty inlined). */
export const GO_PLUGIN_PROTO = `
syntax = "proto3";
package plugin;
message Empty {}
message StdioData {
  enum Channel { INVALID = 0; STDOUT = 1; STDERR = 2; }
  Channel channel = 1;
  bytes data = 2;
}
service GRPCController { rpc Shutdown(Empty) returns (Empty); }
service GRPCStdio { rpc StreamStdio(Empty) returns (stream StdioData); }
`;

export const HEALTH_PROTO = `
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
`;

/** grpc's reflection.proto, for v1alpha and v1 (same messages, two packages). */
export function reflectionProto(pkg: "grpc.reflection.v1alpha" | "grpc.reflection.v1"): string {
  return `
syntax = "proto3";
package ${pkg};
message ServerReflectionRequest {
  string host = 1;
  oneof message_request {
    string file_by_filename = 3;
    string file_containing_symbol = 4;
    ExtensionRequest file_containing_extension = 5;
    string all_extension_numbers_of_type = 6;
    string list_services = 7;
  }
}
message ExtensionRequest { string containing_type = 1; int32 extension_number = 2; }
message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ExtensionNumberResponse all_extension_numbers_response = 5;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ExtensionNumberResponse { string base_type_name = 1; repeated int32 extension_number = 2; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }
service ServerReflection {
  rpc ServerReflectionInfo(stream ServerReflectionRequest) returns (stream ServerReflectionResponse);
}
`;
}

/** A parsed schema and the file name reflection serves it under. */
export interface ProtoFile {
  name: string;
  root: protobuf.Root;
}

export function protoFile(name: string, text: string): ProtoFile {
  const root = protobuf.parse(text, { keepCase: false }).root;
  root.resolveAll();
  return { name, root };
}

/** The FileDescriptorProto bytes of a schema, named as reflection serves it. */
export function fileDescriptorBytes(file: ProtoFile): Uint8Array {
  const set = (
    file.root as unknown as { toDescriptor(s: string): { file: { name: string }[] } }
  ).toDescriptor("proto3");
  const fd = set.file[0]!;
  fd.name = file.name;
  return descriptor.FileDescriptorProto.encode(fd as never).finish();
}

/** A schema back from FileDescriptorProto bytes (what reflection answers). */
export function rootFromDescriptors(files: Uint8Array[]): protobuf.Root {
  const set = { file: files.map((b) => descriptor.FileDescriptorProto.decode(b)) };
  const root = (protobuf.Root as unknown as { fromDescriptor(s: unknown): protobuf.Root }).fromDescriptor(
    set,
  );
  root.resolveAll();
  return root;
}

/** Plain objects both ways: enums as numbers, longs as numbers, bytes as Buffers, defaults filled. */
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  oneofs: true,
};

export function encodeMessage(type: protobuf.Type, value: object): Buffer {
  return Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
}

export function decodeMessage<T = Record<string, unknown>>(type: protobuf.Type, bytes: Uint8Array): T {
  return type.toObject(type.decode(bytes), TO_OBJECT) as T;
}

/** A grpc-js service definition from a protobufjs service, so no proto-loader is needed. */
export function serviceDefinition(service: protobuf.Service): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of service.methodsArray) {
    m.resolve();
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    def[m.name] = {
      path: `/${service.fullName.replace(/^\./, "")}/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: (v: object) => encodeMessage(req, v),
      requestDeserialize: (b: Buffer) => decodeMessage(req, b),
      responseSerialize: (v: object) => encodeMessage(res, v),
      responseDeserialize: (b: Buffer) => decodeMessage(res, b),
      originalName: m.name,
    };
  }
  return def as grpc.ServiceDefinition;
}

/** The schemas every plugin serves, parsed once per process. */
let loaded: ReturnType<typeof loadSchemas> | undefined;
function loadSchemas() {
  const instanceGroup = protoFile("runmesh/fleeting/v1/instance_group.proto", INSTANCE_GROUP_PROTO);
  const goPlugin = protoFile("plugin/grpc_controller.proto", GO_PLUGIN_PROTO);
  const health = protoFile("grpc/health/v1/health.proto", HEALTH_PROTO);
  const reflectionV1alpha = protoFile(
    "grpc/reflection/v1alpha/reflection.proto",
    reflectionProto("grpc.reflection.v1alpha"),
  );
  const reflectionV1 = protoFile(
    "grpc/reflection/v1/reflection.proto",
    reflectionProto("grpc.reflection.v1"),
  );
  return { instanceGroup, goPlugin, health, reflectionV1alpha, reflectionV1 };
}
export function schemas(): ReturnType<typeof loadSchemas> {
  loaded ??= loadSchemas();
  return loaded;
}
