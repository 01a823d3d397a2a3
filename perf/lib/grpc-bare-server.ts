/**
 * The gRPC transport ceiling for perf/grpc-load.ts: a bare grpc-js server, in its own process (as the coordinator
 * is), serving moc.v1.ModelOps' ListModels and Infer with fixed answers (the coordinator's own answers, passed as
 * JSON: its demo model as it lists it, and an InferResponse it gave in the same run), with no auth, validation,
 * actors or metrics. Its CPU per Infer call (read from /proc by the parent) is the floor the coordinator's own CPU
 * per request is compared with. Prints `{"port":N}` once listening; exits when its parent goes away (stdin closes).
 *   node --import=tsx perf/lib/grpc-bare-server.ts --answer '{"models":[...],"next_cursor":""}' [--infer '{...}']
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { modelOpsService } from '../../src/transports/grpc/proto.js';

const { values } = parseArgs({
  options: { answer: { type: 'string', default: '{"models":[]}' }, infer: { type: 'string', default: '{}' } },
});
const answer = JSON.parse(values.answer!);
const inferAnswer = JSON.parse(values.infer!);
const server = new grpc.Server();
server.addService(modelOpsService(), {
  ListModels: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, answer),
  Infer: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, inferAnswer),
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
