/**
 * The gRPC transport ceiling for perf/grpc-load.ts: a bare grpc-js server, in its own process (as the coordinator
 * is), serving moc.v1.ModelOps' ListModels with a fixed answer of one model (the coordinator's demo model as it lists
 * it, passed as JSON), with no auth, validation, actors or metrics. Prints `{"port":N}` once listening; exits when
 * its parent goes away (stdin closes).
 *   node --import=tsx perf/lib/grpc-bare-server.ts --answer '{"models":[...],"next_cursor":""}'
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { modelOpsService } from '../../src/transports/grpc/proto.js';

const { values } = parseArgs({ options: { answer: { type: 'string', default: '{"models":[]}' } } });
const answer = JSON.parse(values.answer!);
const server = new grpc.Server();
server.addService(modelOpsService(), {
  ListModels: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, answer),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`bare grpc-js: ${err.message}`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.stdin
    .on('end', () => process.exit(0))
    .on('error', () => process.exit(0))
    .resume();
});
