/**
 * For tests that crash, kill, stop or load something *while* a generation runs. A streamed token proves the
 * generation is running (GetDevices' in_flight > 0 proves only that it was admitted), and thousands of tokens on a
 * long-context copy of the demo model take seconds, so it is still running when the test acts on that token.
 * A 400-token generation on the demo model (512-token context) can be over in ~150 ms.
 */
import type * as grpc from '@grpc/grpc-js';

/** Tokens per sequence of longModel: room for LONG_MAX_TOKENS (~1 ms a token here, so several seconds). */
export const LONG_CONTEXT = 4096;
export const LONG_MAX_TOKENS = 4000;

/** LoadModel/RegisterModel request for a copy of the demo model with long sequences. */
export const longModel = (name: string, sequences = 1, contextSize = LONG_CONTEXT) => ({
  name,
  path: 'moc-demo.gguf',
  context_size: contextSize,
  sequences,
});

export interface RunningGeneration {
  /** Resolves at the first streamed token; rejects if the stream ended or failed before one. */
  started: Promise<void>;
  /** The stream's end: its chunks, and the error that ended it (null for a normal end). */
  ended: Promise<{ chunks: any[]; error: grpc.ServiceError | null }>;
  cancel(): void;
}

export function startGeneration(
  client: grpc.Client & Record<string, any>,
  req: object,
  deadlineMs = 120_000,
): RunningGeneration {
  const chunks: any[] = [];
  let firstToken!: () => void;
  const token = new Promise<void>((resolve) => {
    firstToken = resolve;
  });
  const call = client.InferStream(req, {
    deadline: new Date(Date.now() + deadlineMs),
  }) as grpc.ClientReadableStream<any>;
  const ended = new Promise<{ chunks: any[]; error: grpc.ServiceError | null }>((resolve) => {
    call.on('data', (c) => {
      chunks.push(c);
      if (c.text !== undefined) firstToken();
    });
    call.on('error', (error: grpc.ServiceError) => resolve({ chunks, error }));
    call.on('end', () => resolve({ chunks, error: null }));
  });
  const started = Promise.race([
    token,
    ended.then(({ error }) => {
      throw new Error(`the generation ended before its first token (${error?.message ?? 'no error'})`);
    }),
  ]);
  return { started, ended, cancel: () => call.cancel() };
}
