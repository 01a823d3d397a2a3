import * as grpc from '@grpc/grpc-js';

/** A failed gRPC call's MOC error code (moc-error-code metadata), else its gRPC status name. */
export function grpcCode(e: unknown): string {
  const err = e as grpc.ServiceError;
  return err.metadata?.get('moc-error-code')[0]?.toString() ?? grpc.status[err.code] ?? 'UNKNOWN';
}
