/**
 * Loads proto/moc.proto once for the server, the examples, the perf scripts and the tests, with the options that
 * make proto3 `optional` fields come through as absent (undefined) rather than as zero.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packageRoot } from '../../package-root.js';
import type { ModelOpsClient } from './generated/moc/v1/ModelOps.js';

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

/**
 * Calls by a method's name held in a variable (tests and perf scripts loop over methods): such a call is checked by
 * the server, not here.
 */
type ByName = Record<string, (...args: unknown[]) => unknown>;

/** A ModelOps client for examples, perf and tests: typed from proto/moc.proto (generated/), and callable by name. */
export function modelOpsClient(
  address: string,
  options: grpc.ChannelOptions = {},
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): ModelOpsClient & ByName {
  const Ctor = ((mocPackage().moc as grpc.GrpcObject).v1 as grpc.GrpcObject).ModelOps as grpc.ServiceClientConstructor;
  return new Ctor(address, credentials, options) as unknown as ModelOpsClient & ByName;
}
