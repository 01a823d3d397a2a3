/**
 * Loads proto/moc.proto once for the server, the examples, the perf scripts and the tests, with the options that
 * make proto3 `optional` fields come through as absent (undefined) rather than as zero.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packageRoot } from '../../package-root.js';

export const PROTO_PATH = path.join(packageRoot(), 'proto', 'moc.proto');

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

let definition: protoLoader.PackageDefinition | undefined;
/** The loaded definition itself (with its file descriptors): what server reflection describes. */
export function mocPackageDefinition(): protoLoader.PackageDefinition {
  definition ??= protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
  return definition;
}

let cached: grpc.GrpcObject | undefined;
export function mocPackage(): grpc.GrpcObject {
  cached ??= grpc.loadPackageDefinition(mocPackageDefinition());
  return cached;
}

export function modelOpsService(): grpc.ServiceDefinition {
  return (((mocPackage().moc as grpc.GrpcObject).v1 as grpc.GrpcObject).ModelOps as grpc.ServiceClientConstructor)
    .service;
}

/** A typed-enough client constructor for examples, perf and tests. */
export function modelOpsClient(
  address: string,
  options: grpc.ChannelOptions = {},
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): grpc.Client & Record<string, any> {
  const Ctor = ((mocPackage().moc as grpc.GrpcObject).v1 as grpc.GrpcObject).ModelOps as grpc.ServiceClientConstructor;
  return new Ctor(address, credentials, options) as grpc.Client & Record<string, any>;
}
