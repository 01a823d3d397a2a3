/**
 * Embeddings through the official `openai` client (which asks for base64 and decodes it) and our own
 * POST /v1/embeddings: one unit-length vector per input, the same text gives the same vector, different texts
 * differ; the model's embedding context is made at its first call and counted in its memory (the ledger); a text
 * longer than the context is refused, not cut; an unknown model is 404.
 */
import t from 'tap';
import OpenAI from 'openai';
import { startHarness } from '../helpers/coordinator.js';

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

t.test('embeddings', async (t) => {
  const h = await startHarness(t);
  const client = new OpenAI({ baseURL: `${h.restUrl}/openai/v1`, apiKey: 'unused-in-open-mode', maxRetries: 0 });
  const before = (await (await fetch(`${h.restUrl}/v1/models/moc-demo`)).json()) as any;

  const one = await client.embeddings.create({ model: 'moc-demo', input: 'The quick brown fox' });
  t.equal(one.object, 'list');
  t.equal(one.data.length, 1);
  const v = one.data[0]!.embedding;
  t.ok(v.length >= 8, `a vector of ${v.length} numbers`);
  t.ok(Math.abs(norm(v) - 1) < 1e-5, 'unit length (L2-normalised)');
  t.ok(one.usage.prompt_tokens > 0 && one.usage.total_tokens === one.usage.prompt_tokens, 'usage: the input tokens');

  const many = await client.embeddings.create({
    model: 'moc-demo',
    input: ['The quick brown fox', 'jumps over the lazy dog', 'The quick brown fox'],
  });
  t.same(
    many.data.map((d) => d.index),
    [0, 1, 2],
    'one per input, in order',
  );
  const [a, b, c] = many.data.map((d) => d.embedding);
  t.ok(Math.abs(dot(a!, c!) - 1) < 1e-5, 'the same text: the same vector');
  t.ok(dot(a!, b!) < 0.9999, 'another text: another vector');
  t.ok(
    a!.every((x, i) => Math.abs(x - v[i]!) < 1e-5),
    'and the same as the call before',
  );

  const floats = await fetch(`${h.restUrl}/openai/v1/embeddings`, {
    method: 'POST',
    body: JSON.stringify({ model: 'moc-demo', input: 'The quick brown fox', encoding_format: 'float' }),
  });
  const fj = (await floats.json()) as any;
  t.ok(
    Array.isArray(fj.data[0].embedding) && Math.abs(fj.data[0].embedding[0] - v[0]!) < 1e-5,
    "encoding_format float: plain numbers, the same as base64's",
  );

  const ours = await fetch(`${h.restUrl}/v1/embeddings`, {
    method: 'POST',
    body: JSON.stringify({ model: 'moc-demo', input: ['The quick brown fox'] }),
  });
  t.equal(ours.status, 200, 'POST /v1/embeddings');
  t.match(await ours.json(), { model: 'moc-demo', device: 'cpu0', embeddings: [Array] });

  const after = (await (await fetch(`${h.restUrl}/v1/models/moc-demo`)).json()) as any;
  t.ok(
    after.actual_bytes > before.actual_bytes,
    `the embedding context is counted in the model's memory (${before.actual_bytes} → ${after.actual_bytes})`,
  );
  const dev = ((await (await fetch(`${h.restUrl}/v1/devices`)).json()) as any).devices[0];
  t.ok(dev.memory.reserved >= after.actual_bytes, 'and in the device ledger');

  // A full batch of short texts (256 × 260 bytes, 65 KiB in all) is served: limits.maxPromptBytes (64 KiB) bounds
  // each text, not their sum (issue 24: it was refused for the sum).
  const batch = Array.from({ length: 256 }, (_, i) => `${i} `.padEnd(260, 'abcdefgh '));
  const full = await client.embeddings.create({ model: 'moc-demo', input: batch });
  t.equal(full.data.length, 256, '256 texts of 260 bytes: 256 vectors');
  const big = await fetch(`${h.restUrl}/v1/embeddings`, {
    method: 'POST',
    body: JSON.stringify({ model: 'moc-demo', input: ['hi', 'x'.repeat(64 * 1024 + 1)] }),
  });
  t.equal(big.status, 400, 'one text over limits.maxPromptBytes: 400');
  t.match(((await big.json()) as any).error, {
    message: /input\[1\].*65537 bytes.*at most 65536 \(limits\.maxPromptBytes\)/,
    details: { field: 'input[1]' },
  });
  const tooLong = await client.embeddings.create({ model: 'moc-demo', input: 'x'.repeat(3000) }).catch((e) => e);
  t.ok(tooLong instanceof OpenAI.BadRequestError, 'a text longer than the context: 400');
  t.match(tooLong.message, /embeds at most \d+ .*split the text/);
  const unknown = await client.embeddings.create({ model: 'nope', input: 'hi' }).catch((e) => e);
  t.ok(unknown instanceof OpenAI.NotFoundError, 'an unknown model: 404');
  const dims = await client.embeddings.create({ model: 'moc-demo', input: 'hi', dimensions: 8 }).catch((e) => e);
  t.ok(dims instanceof OpenAI.BadRequestError, 'dimensions: refused by name');
  t.equal(dims.param, 'dimensions');

  // Unload frees the embedding context with the model; a reload embeds again.
  await fetch(`${h.restUrl}/v1/models/moc-demo/unload`, { method: 'POST' });
  const freed = ((await (await fetch(`${h.restUrl}/v1/devices`)).json()) as any).devices[0];
  t.equal(freed.memory.reserved, 0, 'unloaded: nothing left in the ledger');
  const again = await client.embeddings.create({ model: 'moc-demo', input: 'The quick brown fox' });
  t.ok(
    again.data[0]!.embedding.every((x, i) => Math.abs(x - v[i]!) < 1e-5),
    'loaded on demand, the same vector',
  );
});
