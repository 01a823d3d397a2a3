/**
 * The README's gRPC example: one unary Infer and one streaming InferStream against a running server.
 *   npx tsx examples/infer.ts [address] [model] [prompt]
 */
import { modelOpsClient } from '../src/transports/grpc/proto.js';

const [address = '127.0.0.1:7212', model = 'moc-demo', prompt = 'Once upon a time'] = process.argv.slice(2);
const client = modelOpsClient(address);
const deadline = () => new Date(Date.now() + 30_000);

const unary = await new Promise<any>((resolve, reject) =>
  client.Infer({ model, prompt, max_tokens: 24, temperature: 0.8, seed: 42 }, { deadline: deadline() },
    (err: Error | null, res: any) => (err ? reject(err) : resolve(res))));
console.log(`Infer → ${JSON.stringify(unary.text)}`);
console.log(`  ${unary.tokens_generated} tokens, ${unary.finish_reason}, queue ${unary.queue_ms.toFixed(1)} ms, compute ${unary.compute_ms.toFixed(1)} ms on ${unary.device}`);

process.stdout.write('InferStream → ');
await new Promise<void>((resolve, reject) => {
  const call = client.InferStream({ model, prompt, max_tokens: 24 }, { deadline: deadline() });
  call.on('data', (chunk: any) => {
    if (chunk.chunk === 'text') process.stdout.write(JSON.stringify(chunk.text) + ' ');
    else process.stdout.write(`\n  done: ${chunk.done.tokens_generated} tokens, ${chunk.done.finish_reason}\n`);
  });
  call.on('error', reject);
  call.on('end', resolve);
});
client.close();
