/**
 * Stop strings are matched on the text a client sees (actors/device/stop-text.ts). node-llama-cpp's own detector
 * never matched one with a space in it on the demo model, so `stop: ["a b"]` ran to max_tokens. Here: the answer ends
 * right before the first occurrence of any stop string, spaces or not, plain and streamed (no streamed piece shows any
 * part of it, even one split across pieces), through every route; then the matcher itself, piece by piece.
 */
import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';
import { StopText } from '../../actors/device/stop-text.js';

t.test('stop strings with spaces end the answer before them, plain and streamed', async (t) => {
  const h = await startHarness(t);
  const infer = async (body: Record<string, unknown>) =>
    (
      await fetch(`${h.restUrl}/v1/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json() as Promise<any>;
  const base = { model: 'moc-demo', prompt: 'Once upon a time', temperature: 0, max_tokens: 60 };
  const full = (await infer(base)).text as string;
  // Three-character stops with a space in the middle, each first found past the answer's start.
  const spaced = [...full.matchAll(/(?=(\S \S))/g)]
    .map((m) => m.index!)
    .filter((i) => full.indexOf(full.slice(i, i + 3)) === i && i > 2);
  t.ok(spaced.length > 0, `the greedy answer has spaces to stop at: ${JSON.stringify(full)}`);
  for (const at of spaced.slice(0, 3)) {
    const stop = full.slice(at, at + 3);
    const expected = full.slice(0, full.indexOf(stop));
    const plain = await infer({ ...base, stop: [stop] });
    t.equal(plain.text, expected, `stop ${JSON.stringify(stop)}: the answer ends before it`);
    t.equal(plain.finish_reason, 'stop');
    const res = await fetch(`${h.restUrl}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...base, stop: [stop], stream: true }),
    });
    const events = (await res.text())
      .split('\n\n')
      .filter((e) => /^data: /m.test(e))
      .map((e) => ({ event: /^event: (.*)$/m.exec(e)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(e)![1]!) }));
    const pieces = events.filter((e) => e.event === 'token').map((e) => e.data.text as string);
    t.equal(pieces.join(''), expected, 'streamed: the same text');
    t.equal(events[events.length - 1]!.data.text, expected, 'and the done event says it too');
  }
  // A trailing space, alone or after a word (both ran to max_tokens before).
  const word = /\S+ /.exec(full)!;
  const w = await infer({ ...base, stop: [word[0]] });
  t.equal(w.text, full.slice(0, word.index), `stop ${JSON.stringify(word[0])} (a trailing space)`);
  const space = await infer({ ...base, stop: [' '] });
  t.equal(space.text, full.slice(0, full.indexOf(' ')), 'stop " "');
  // Through gRPC and the OpenAI route as well.
  const stop = full.slice(spaced[0]!, spaced[0]! + 3);
  const g = await h.unary('Infer', { ...base, stop: [stop] });
  t.equal(g.text, full.slice(0, full.indexOf(stop)), 'gRPC: the same');
  const o = (await (
    await fetch(`${h.restUrl}/openai/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...base, stop }),
    })
  ).json()) as any;
  t.equal(o.choices[0].text, full.slice(0, full.indexOf(stop)), 'OpenAI completions: the same');
  t.equal(o.choices[0].finish_reason, 'stop');
});

t.test('StopText holds back what could be a stop string and never shows a part of one', async (t) => {
  const s = new StopText(['a b', 'xyz']);
  t.equal(s.feed('hello a'), 'hello ', '"a" could start "a b": held');
  t.equal(s.feed(' '), '', '"a " still could');
  t.equal(s.feed('c'), 'a c', 'it was not: shown');
  t.equal(s.feed('..xy'), '..', '"xy" held');
  t.equal(s.feed('z and more'), '', 'the stop: nothing of it or after it');
  t.ok(s.stopped);
  t.equal(s.text, 'hello a c..', 'the answer ends before the stop');
  t.equal(s.feed('later'), '', 'nothing after a stop');
  const e = new StopText(['end']);
  t.equal(e.feed('the en'), 'the ', 'held at the end');
  t.equal(e.end(), 'en', 'a generation that ends releases what was held');
  t.equal(e.text, 'the en');
  const first = new StopText(['bb', 'b']);
  t.equal(first.feed('abbb'), 'a', 'the earliest match wins');
});
