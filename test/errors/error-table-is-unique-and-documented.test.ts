import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERRORS, GrpcStatus, MocError, toMocError, errors, type ErrorSpec } from '../../src/errors.js';
import { renderErrorDocs } from '../../src/error-docs.js';
import { packageRoot } from '../../src/package-root.js';

const table = Object.entries(ERRORS) as [string, ErrorSpec][];
const docPath = path.join(packageRoot(), 'docs', 'errors.md');

/**
 * HTTP statuses a gRPC status may pair with: google.rpc.Code's HTTP mapping plus the deviations the table documents
 * (404/405 for unknown routes, 413/414/431 for size limits, 422 for a bad model file, 507 for device memory).
 * A new pairing has to be added here on purpose, not slip in.
 */
const HTTP_FOR_GRPC: Record<string, readonly number[]> = {
  CANCELLED: [499],
  UNKNOWN: [500],
  INVALID_ARGUMENT: [400, 414, 431],
  DEADLINE_EXCEEDED: [504, 408],
  NOT_FOUND: [404],
  ALREADY_EXISTS: [409],
  PERMISSION_DENIED: [403],
  RESOURCE_EXHAUSTED: [413, 429, 507],
  FAILED_PRECONDITION: [400, 412, 422],
  ABORTED: [409],
  OUT_OF_RANGE: [400],
  UNIMPLEMENTED: [404, 405, 501],
  INTERNAL: [500],
  UNAVAILABLE: [503],
  DATA_LOSS: [500],
  UNAUTHENTICATED: [401],
};
/**
 * What clients and proxies treat as "try again later" (REST sends Retry-After on 429/503; HAProxy retries 503/504);
 * 408: the client may send the request again (RFC 9110 §15.5.9).
 */
const RETRYABLE_HTTP = new Set([408, 429, 503, 504]);

/** The rows of the error table in docs/errors.md, as the columns read. */
function docRows(doc: string): { code: string; cells: string[] }[] {
  return doc
    .split('\n')
    .filter((l) => /^\| `[^`]+` \|/.test(l))
    .map((l) => {
      const cells = l
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim());
      return { code: cells[0]!.replace(/`/g, ''), cells };
    });
}

/** What is wrong with a docs/errors.md against the table; [] when every code is there once, as the table says. */
function docProblems(doc: string): string[] {
  const problems: string[] = [];
  const rows = docRows(doc);
  const seen = new Map<string, number>();
  for (const r of rows) seen.set(r.code, (seen.get(r.code) ?? 0) + 1);
  for (const [code, n] of seen) {
    if (!Object.hasOwn(ERRORS, code)) problems.push(`${code} is documented but not in the table`);
    else if (n > 1) problems.push(`${code} is documented ${n} times`);
  }
  for (const [code, spec] of table) {
    const row = rows.find((r) => r.code === code);
    if (!row) {
      problems.push(`${code} is not documented`);
      continue;
    }
    const want = [
      `\`${code}\``,
      `${spec.grpc} (${GrpcStatus[spec.grpc]})`,
      String(spec.http),
      `\`${spec.zmq}\``,
      spec.retryable ? 'yes' : 'no',
      spec.when,
    ];
    if (row.cells.join(' | ') !== want.join(' | ')) problems.push(`${code}: the row says '${row.cells.join(' | ')}'`);
  }
  return problems;
}

t.test('every code is well-formed and mapped on all three transports', async (t) => {
  for (const [code, spec] of table) {
    t.match(code, /^MOC_ERR_[A-Z_]+$/, `${code} is well-formed`);
    t.ok(Object.hasOwn(GrpcStatus, spec.grpc) && spec.grpc !== 'OK', `${code} has a gRPC error status`);
    t.ok(spec.http >= 400 && spec.http < 600, `${code} has an HTTP error status`);
    t.match(spec.zmq, /^[A-Z_]+$/, `${code} has a ZMQ code`);
    t.ok(spec.when.trim().length > 0, `${code} says when it happens`);
    t.notMatch(spec.when, /[|\n]/, `${code}: its 'when' fits in one table cell`);
    t.match(spec.when, /\.$/, `${code}: its 'when' is a sentence`);
  }
});

t.test('the three mappings agree with each other and with retryable', async (t) => {
  for (const [code, spec] of table) {
    t.ok(HTTP_FOR_GRPC[spec.grpc]?.includes(spec.http), `${code}: HTTP ${spec.http} fits gRPC ${spec.grpc}`);
    t.equal(
      spec.retryable,
      RETRYABLE_HTTP.has(spec.http),
      `${code}: retryable (${spec.retryable}) matches HTTP ${spec.http} (429/503/504 say "try again later")`,
    );
  }
  // A legacy ZMQ agent decides from the code alone: codes that share a ZMQ code must agree on retrying.
  const byZmq = new Map<string, Set<boolean>>();
  for (const [, spec] of table) byZmq.set(spec.zmq, (byZmq.get(spec.zmq) ?? new Set()).add(spec.retryable));
  for (const [zmq, r] of byZmq) t.equal(r.size, 1, `ZMQ ${zmq} is either retryable or not, never both`);
});

t.test("the issue's required mappings hold", async (t) => {
  t.equal(errors.modelNotFound('x', []).grpcStatus, GrpcStatus.NOT_FOUND);
  t.equal(errors.invalidArgument('prompt', 'empty').grpcStatus, GrpcStatus.INVALID_ARGUMENT);
  t.equal(errors.busy('q', 1).grpcStatus, GrpcStatus.RESOURCE_EXHAUSTED);
  t.equal(errors.busy('q', 1).httpStatus, 429);
  t.equal(errors.busy('q', 1).zmqCode, 'BUSY');
  t.equal(new MocError('MOC_ERR_NO_MEMORY', 'x').grpcStatus, GrpcStatus.RESOURCE_EXHAUSTED);
  t.equal(errors.unavailable('restarting').grpcStatus, GrpcStatus.UNAVAILABLE);
  t.equal(errors.deadline('x', 1).grpcStatus, GrpcStatus.DEADLINE_EXCEEDED);
  t.equal(toMocError(new TypeError('boom')).code, 'MOC_ERR_INTERNAL', 'a bug becomes INTERNAL');
  t.equal(
    toMocError(errors.busy('q', 1).toData()).code,
    'MOC_ERR_BUSY',
    'plain data from another thread is rehydrated',
  );
  // Retry-After (REST) and retry-after-ms (gRPC) are read from details.retryAfterMs.
  t.ok(Number(errors.busy('q', 1).details.retryAfterMs) > 0, 'busy says when to retry');
  t.ok(Number(errors.unavailable('restarting').details.retryAfterMs) > 0, 'unavailable says when to retry');
});

t.test('docs/errors.md documents every code exactly once, as the table says, and nothing else', async (t) => {
  const doc = readFileSync(docPath, 'utf8');
  t.same(docProblems(doc), []);
  t.equal(docRows(doc).length, table.length, 'one row per code');
  // The check itself can fail: a duplicated row, an unknown code and a wrong status are each named.
  const [first] = docRows(doc);
  const firstLine = doc.split('\n').find((l) => l.startsWith(`| \`${first!.code}\` |`))!;
  const tampered = doc
    .replace(
      firstLine,
      `${firstLine}\n${firstLine}\n| \`MOC_ERR_NOT_IN_TABLE\` | INTERNAL (13) | 500 | \`INTERNAL\` | no | x. |`,
    )
    .replace('| 429 |', '| 430 |');
  const found = docProblems(tampered).join('\n');
  t.match(found, new RegExp(`${first!.code} is documented 2 times`));
  t.match(found, /MOC_ERR_NOT_IN_TABLE is documented but not in the table/);
  t.match(found, /MOC_ERR_BUSY: the row says/);
});

t.test('docs/errors.md is the generated table (run `npm run docs:errors` after changing src/errors.ts)', async (t) => {
  t.equal(readFileSync(docPath, 'utf8'), renderErrorDocs());
});
