/**
 * Issue 24 item 2: logprobs must describe the answer exactly. The byte-level demo model often writes a character in
 * several byte tokens, and used to lose the last token (`max_tokens: 1` gave `tokens: []`), tokens that did not join
 * to the text, and completions' top_logprobs dicts that collapsed alternatives all named `�`. The invariants, over
 * seeds 0..11 × max_tokens 1, 2, 3, 5, 8, 13 on every route (OpenAI completions and chat, REST and gRPC infer), and
 * with stop strings: one entry per generated token (usage.completion_tokens / tokens_generated), the entries' tokens
 * joined equal the text exactly, top_logprobs has exactly the count asked for, with distinct names, and no more
 * tokens than max_tokens (node-llama-cpp sampled one more when the last one started a character).
 */
import t from 'tap';
import path from 'node:path';
import { startHarness } from '../helpers/coordinator.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { HERMES_TOOLS_SPECIAL_TOKENS, HERMES_TOOLS_TEMPLATE } from '../../src/model/chat-templates.js';

const SEEDS = Array.from({ length: 12 }, (_, i) => i);
const LENGTHS = [1, 2, 3, 5, 8, 13];
const TOP = 2;

type Entry = { token: string; logprob: number; top: Array<{ token: string; logprob: number }> };

/** What breaks the invariants in one answer ('' when none does). */
function check(text: string, count: number, entries: Entry[], more = ''): string {
  const problems: string[] = more ? [more] : [];
  if (entries.length !== count) problems.push(`${entries.length} entries for ${count} tokens`);
  const joined = entries.map((e) => e.token).join('');
  if (joined !== text) problems.push(`tokens join to ${JSON.stringify(joined)}, text ${JSON.stringify(text)}`);
  for (const [i, e] of entries.entries()) {
    if (!(e.logprob <= 0)) problems.push(`entry ${i}: logprob ${e.logprob}`);
    const names = new Set(e.top.map((a) => a.token));
    if (e.top.length !== TOP || names.size !== TOP)
      problems.push(`entry ${i}: ${names.size} distinct of ${e.top.length} alternatives, asked ${TOP}`);
  }
  return problems.join('; ');
}

t.test('logprobs have one entry per token, join to the text, and the alternatives asked for', async (t) => {
  const h = await startHarness(t);
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${h.restUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as any;
    if (res.status !== 200 && res.status !== 201) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const routes: Record<
    string,
    (seed: number, max: number, stop?: string) => Promise<[string, number, Entry[], string?]>
  > = {
    completions: async (seed, max, stop) => {
      const r = await post('/openai/v1/completions', {
        model: 'moc-demo',
        prompt: 'Hi',
        max_tokens: max,
        seed,
        logprobs: TOP,
        ...(stop ? { stop } : {}),
      });
      const c = r.choices[0];
      const lp = c.logprobs;
      const entries = lp.tokens.map((token: string, i: number) => ({
        token,
        logprob: lp.token_logprobs[i],
        top: Object.entries(lp.top_logprobs[i]).map(([k, v]) => ({ token: k, logprob: v as number })),
      }));
      // text_offset: where each token starts in the text.
      const offsets = lp.tokens.map((_: string, i: number) => lp.tokens.slice(0, i).join('').length);
      const off = JSON.stringify(offsets) !== JSON.stringify(lp.text_offset) ? 'text_offset is off' : '';
      return [c.text, r.usage.completion_tokens, entries, off];
    },
    chat: async (seed, max, stop) => {
      const r = await post('/openai/v1/chat/completions', {
        model: 'moc-demo',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: max,
        seed,
        logprobs: true,
        top_logprobs: TOP,
        ...(stop ? { stop } : {}),
      });
      const c = r.choices[0];
      const content: any[] = c.logprobs.content;
      // Each entry's bytes are its token's: together the content's bytes.
      const bytes = Buffer.from(content.flatMap((e) => e.bytes));
      const off = bytes.equals(Buffer.from(c.message.content, 'utf8')) ? '' : "the entries' bytes are not the text's";
      const entries = content.map((e) => ({ token: e.token, logprob: e.logprob, top: e.top_logprobs }));
      return [c.message.content, r.usage.completion_tokens, entries, off];
    },
    'REST infer': async (seed, max, stop) => {
      const r = await post('/v1/infer', {
        model: 'moc-demo',
        prompt: 'Hi',
        max_tokens: max,
        seed,
        logprobs: TOP,
        ...(stop ? { stop: [stop] } : {}),
      });
      return [r.text, r.tokens_generated, r.logprobs ?? []];
    },
    'gRPC infer': async (seed, max, stop) => {
      const r = await h.unary('Infer', {
        model: 'moc-demo',
        prompt: 'Hi',
        max_tokens: max,
        seed,
        logprobs: TOP,
        ...(stop ? { stop: [stop] } : {}),
      });
      return [r.text, Number(r.tokens_generated), r.logprobs ?? []];
    },
  };
  for (const [name, run] of Object.entries(routes)) {
    const broken: string[] = [];
    let partial = 0; // answers that end on or pass through a byte completing no character alone
    for (const seed of SEEDS)
      for (const max of LENGTHS) {
        const [text, count, entries, more] = await run(seed, max);
        if (entries.some((e) => e.token === '')) partial++;
        let p = check(text, count, entries, more);
        if (count > max) p += `; ${count} tokens for max_tokens ${max}`;
        if (p) broken.push(`seed ${seed} max_tokens ${max}: ${p}`);
      }
    t.comment(`${name}: ${broken.length} of ${SEEDS.length * LENGTHS.length} answers break an invariant`);
    t.same(broken.slice(0, 5), [], `${name}: every answer keeps the invariants`);
    t.ok(partial > 0, `${name}: some answers have a token that adds no text alone (the hard case is exercised)`);
  }
  // A chat with tools (LlamaChat, tool-calls.ts) that answers in text: the same invariants.
  await writeTinyLlamaGguf(path.join(h.modelsRoot, 'moc-tools.gguf'), {
    name: 'moc-tools',
    chatTemplate: HERMES_TOOLS_TEMPLATE,
    specialTokens: HERMES_TOOLS_SPECIAL_TOKENS,
  });
  await post('/v1/models', { name: 'moc-tools', path: 'moc-tools.gguf', context_size: 1024, sequences: 1 });
  const brokenTools: string[] = [];
  for (const seed of SEEDS.slice(0, 6))
    for (const max of LENGTHS) {
      const r = await post('/openai/v1/chat/completions', {
        model: 'moc-tools',
        messages: [{ role: 'user', content: 'Hi' }],
        tools: [{ type: 'function', function: { name: 'ping' } }],
        tool_choice: 'none',
        max_tokens: max,
        seed,
        logprobs: true,
        top_logprobs: TOP,
      });
      const c = r.choices[0];
      const entries = c.logprobs.content.map((e: any) => ({ token: e.token, logprob: e.logprob, top: e.top_logprobs }));
      let p = check(c.message.content ?? '', r.usage.completion_tokens, entries);
      if (r.usage.completion_tokens > max) p += `; ${r.usage.completion_tokens} tokens for max_tokens ${max}`;
      if (p) brokenTools.push(`seed ${seed} max_tokens ${max}: ${p}`);
    }
  t.comment(`chat with tools: ${brokenTools.length} of ${6 * LENGTHS.length} answers break an invariant`);
  t.same(brokenTools.slice(0, 5), [], 'chat with tools (answered in text): every answer keeps the invariants');

  // A stop string cuts the text inside what was generated: the tokens past it add nothing, and are still counted.
  const brokenStops: string[] = [];
  let tried = 0;
  for (const seed of SEEDS.slice(0, 6)) {
    const full = (await routes.completions!(seed, 13))[0];
    const stop = full.slice(3, 5);
    if (stop.length < 2 || full.indexOf(stop) < 1) continue;
    tried++;
    for (const [name, run] of Object.entries(routes)) {
      const [text, count, entries, more] = await run(seed, 13, stop);
      const p = check(text, count, entries, more);
      if (p) brokenStops.push(`${name} seed ${seed} stop ${JSON.stringify(stop)}: ${p}`);
      if (name !== 'chat' && text !== full.slice(0, full.indexOf(stop))) brokenStops.push(`${name}: text not cut`);
    }
  }
  t.ok(tried >= 3, `${tried} seeds with a stop string inside the answer`);
  t.comment(`with stop strings: ${brokenStops.length} of ${tried * 4} answers break an invariant`);
  t.same(brokenStops.slice(0, 5), [], 'with stop strings too');
});
