/**
 * `moc infer <model> [prompt]`: the prompt from the argument or stdin; the answer streamed to stdout as it is
 * generated (Server-Sent Events from POST /v1/infer), a one-line summary on stderr. --json: the whole answer as JSON.
 */
import { Command, InvalidArgumentError } from 'commander';
import { InferRequest } from '../../schemas/messages.js';
import type { ErrorBody, InferResponse } from '../../schemas/rest.js';
import { type Api, CliError, EXIT } from './api.js';
import type { OutputOptions } from './output.js';
import { numberOf, parser } from './options.js';

/** The request fields the number options fill, with the ranges the server checks. */
const F = InferRequest.properties;

interface InferOptions extends OutputOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
}

/** POST /v1/infer's events when streamed (docs/rest.md): a piece of text or of a tool call, the answer, or its error. */
type InferEvent =
  | { event: 'token'; data: { text: string } }
  | { event: 'tool_call'; data: unknown }
  | { event: 'done'; data: InferResponse }
  | { event: 'error'; data: ErrorBody };

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One --stop string (schemas/messages.ts: 1 to 64 characters each, at most 8; the server counts them). */
const stopText = parser('up to 8 strings of 1 to 64 characters', (v, previous) => {
  if (v.length < 1 || v.length > 64) throw new InvalidArgumentError('It takes strings of 1 to 64 characters.');
  if (Array.isArray(previous) && previous.length >= 8) throw new InvalidArgumentError('It takes up to 8 strings.');
  return v;
});

export function inferCommand(api: () => Api): Command {
  return new Command('infer')
    .description('generate text: streamed to stdout as it comes')
    .argument('<model>', 'model or alias')
    .argument('[prompt]', 'the prompt (default: read from stdin)')
    .option(
      '--max-tokens <n>',
      'tokens to generate',
      numberOf(F.max_tokens, { except: [0], note: '-1: the rest of the context' }),
    )
    .option('--temperature <t>', '0 = greedy', numberOf(F.temperature))
    .option('--top-p <p>', 'nucleus sampling', numberOf(F.top_p))
    .option('--seed <n>', 'for reproducible sampling', numberOf(F.seed))
    .option('--stop <text...>', 'stop before any of these strings', stopText)
    .option('--json', 'print the whole answer as JSON (not streamed)')
    .action(async (model: string, promptArg: string | undefined, o: InferOptions) => {
      const prompt = promptArg ?? (await readStdin());
      if (!prompt) throw new CliError('no prompt: give it as an argument or on stdin', EXIT.USAGE);
      const body = {
        model,
        prompt,
        ...(o.maxTokens !== undefined ? { max_tokens: o.maxTokens } : {}),
        ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
        ...(o.topP !== undefined ? { top_p: o.topP } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.stop ? { stop: o.stop } : {}),
      };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(await api().json('POST', '/v1/infer', body), null, 2)}\n`);
        return;
      }
      for await (const sse of api().events('POST', '/v1/infer', { ...body, stream: true })) {
        // The server's stream events (src/transports/rest), by their event name.
        const e = sse as InferEvent;
        if (e.event === 'token') process.stdout.write(e.data.text);
        else if (e.event === 'done') {
          const d = e.data;
          process.stdout.write('\n');
          process.stderr.write(
            `[${d.model} on ${d.device}: ${d.tokens_generated} tokens, ${d.finish_reason}, ${Math.round(d.compute_ms)} ms]\n`,
          );
        } else if (e.event === 'error') {
          process.stdout.write('\n');
          const { code, message } = e.data.error;
          throw new CliError(
            `${code}: ${message}`,
            code === 'MOC_ERR_BUSY' || code === 'MOC_ERR_UNAVAILABLE' ? EXIT.RETRY : EXIT.FAILED,
            code,
          );
        }
      }
    });
}
