import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERRORS, GrpcStatus, MocError, toMocError, errors } from '../../src/errors.js';
import { renderErrorDocs } from '../../src/error-docs.js';
import { packageRoot } from '../../src/package-root.js';

t.test('every code is unique, well-formed and mapped on all three transports', async (t) => {
  const codes = Object.keys(ERRORS);
  t.equal(new Set(codes).size, codes.length);
  for (const [code, spec] of Object.entries(ERRORS)) {
    t.match(code, /^MOC_ERR_[A-Z_]+$/, `${code} is well-formed`);
    t.ok(spec.grpc in GrpcStatus, `${code} has a gRPC status`);
    t.ok(spec.http >= 400 && spec.http < 600, `${code} has an HTTP error status`);
    t.match(spec.zmq, /^[A-Z_]+$/, `${code} has a ZMQ code`);
  }
});

t.test('the issue\'s required mappings hold', async (t) => {
  t.equal(errors.modelNotFound('x', []).grpcStatus, GrpcStatus.NOT_FOUND);
  t.equal(errors.invalidArgument('prompt', 'empty').grpcStatus, GrpcStatus.INVALID_ARGUMENT);
  t.equal(errors.busy('q', 1).grpcStatus, GrpcStatus.RESOURCE_EXHAUSTED);
  t.equal(errors.busy('q', 1).httpStatus, 429);
  t.equal(errors.busy('q', 1).zmqCode, 'BUSY');
  t.equal(new MocError('MOC_ERR_NO_MEMORY', 'x').grpcStatus, GrpcStatus.RESOURCE_EXHAUSTED);
  t.equal(errors.unavailable('restarting').grpcStatus, GrpcStatus.UNAVAILABLE);
  t.equal(errors.deadline('x', 1).grpcStatus, GrpcStatus.DEADLINE_EXCEEDED);
  t.equal(toMocError(new TypeError('boom')).code, 'MOC_ERR_INTERNAL', 'a bug becomes INTERNAL');
  t.equal(toMocError(errors.busy('q', 1).toData()).code, 'MOC_ERR_BUSY', 'plain data from another thread is rehydrated');
});

t.test('docs/errors.md is the generated table (run `npm run docs:errors` after changing src/errors.ts)', async (t) => {
  const doc = readFileSync(path.join(packageRoot(), 'docs', 'errors.md'), 'utf8');
  t.equal(doc, renderErrorDocs());
  for (const code of Object.keys(ERRORS)) t.ok(doc.includes(`\`${code}\``), `${code} is documented`);
});
