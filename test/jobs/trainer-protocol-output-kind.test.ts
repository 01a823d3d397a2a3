/**
 * The trainer protocol's output line says what the trainer wrote: `kind` "model" (the default, as before adapters) or
 * "lora" (a LoRA adapter of the base); any other kind is a protocol error, as a bad path is.
 */
import t from 'tap';
import { parseTrainerLine } from '../../actors/jobs/trainer-protocol.js';

t.test('output.kind: model by default, lora for an adapter, anything else refused', async (t) => {
  t.same(parseTrainerLine('{"type":"output","path":"out.gguf"}'), { type: 'output', path: 'out.gguf', kind: 'model' });
  t.same(parseTrainerLine('{"type":"output","path":"out.gguf","kind":"model"}'), {
    type: 'output',
    path: 'out.gguf',
    kind: 'model',
  });
  t.same(parseTrainerLine('{"type":"output","path":"/abs/a.gguf","kind":"lora"}'), {
    type: 'output',
    path: '/abs/a.gguf',
    kind: 'lora',
  });
  for (const kind of ['"LoRA"', '"adapter"', '""', '1', 'null', 'true', '["lora"]', '{"x":1}']) {
    const r = parseTrainerLine(`{"type":"output","path":"out.gguf","kind":${kind}}`);
    t.type(r, 'string', `kind ${kind} is a protocol error`);
    t.match(r, /^output\.kind must be "model" or "lora", got /, String(r));
  }
  t.match(
    parseTrainerLine(`{"type":"output","path":"out.gguf","kind":"${'x'.repeat(500)}"}`),
    /^output\.kind must be .{0,80}$/,
    'a long kind is cut short in the message',
  );
  // The path is checked first, as before: a bad path with a good kind is still a bad path.
  t.equal(parseTrainerLine('{"type":"output","path":"","kind":"lora"}'), 'output.path must be a non-empty path');
});
