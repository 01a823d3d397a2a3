/** Renders docs/errors.md from the error table (src/tools/gen-error-docs.ts writes it; a test keeps it current). */
import { ERRORS, GrpcStatus } from './errors.js';

export function renderErrorDocs(): string {
  const rows = Object.entries(ERRORS).map(
    ([code, s]) =>
      `| \`${code}\` | ${s.grpc} (${GrpcStatus[s.grpc]}) | ${s.http} | \`${s.zmq}\` | ${s.retryable ? 'yes' : 'no'} | ${s.when} |`,
  );
  return [
    '# Errors',
    '',
    '<!-- generated from src/errors.ts by `npm run docs:errors`; do not edit by hand -->',
    '',
    'Every error MOC returns carries one of these codes. Each transport maps it the same way:',
    '',
    '- **gRPC**: the status code below; trailing metadata `moc-error-code` (the code), `moc-error-field` (for invalid',
    '  arguments: the field), `retry-after-ms` (for retryable errors).',
    '- **HTTP**: the status below, body `{ "error": { "code", "message", "details" } }`, `Retry-After` on 429/503.',
    '- **ZMQ**: `{ "status": "error", "code": <ZMQ code>, "message", "request_id" }`.',
    '',
    'The message always says what to do next. "Retryable" means the same request may succeed later unchanged.',
    '',
    '| code | gRPC | HTTP | ZMQ | retryable | when |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
