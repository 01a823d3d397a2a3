import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { errorCode, startHarness, until } from '../helpers/coordinator.js';

t.test('bad input: each a clear coded error, and the server keeps serving', async (t) => {
  const h = await startHarness(t);
  const fail = async (req: object, o: { deadlineMs?: number } = {}) => {
    const err = await h.unary('Infer', req, o).then(
      () => null,
      (e) => e as grpc.ServiceError,
    );
    if (!err) throw new Error(`expected an error for ${JSON.stringify(req).slice(0, 80)}`);
    return err;
  };
  const good = { model: 'moc-demo', temperature: 0, prompt: 'hi', max_tokens: 4 };

  t.test('unknown model → NOT_FOUND, naming what is loaded and saying to register it', async (t) => {
    const e = await fail({ ...good, model: 'nope' });
    t.equal(e.code, grpc.status.NOT_FOUND);
    t.equal(errorCode(e), 'MOC_ERR_MODEL_NOT_FOUND');
    t.match(e.details, /'nope' is not registered \(nor an alias\) \(loaded: moc-demo\); register it first/);
    t.notMatch(e.details, /load it with LoadModel first/, 'loading an unregistered name would not help');
  });

  t.test('empty prompt → INVALID_ARGUMENT naming the field', async (t) => {
    const e = await fail({ ...good, prompt: '' });
    t.equal(e.code, grpc.status.INVALID_ARGUMENT);
    t.equal(e.metadata.get('moc-error-field')[0], 'prompt');
    t.match(e.details, /^prompt: /);
  });

  t.test('max_tokens over the model context → INVALID_ARGUMENT', async (t) => {
    const e = await fail({ ...good, max_tokens: 100_000 });
    t.equal(e.code, grpc.status.INVALID_ARGUMENT);
    t.match(
      e.details,
      /^max_tokens: prompt \(\d+ tokens\) \+ max_tokens \(100000\) exceeds the model's context of 512 tokens/,
    );
    // Within the context alone, but not together with the prompt: the same one check (the engine, after tokenizing).
    const e2 = await fail({ ...good, prompt: 'x'.repeat(300), max_tokens: 400 });
    t.equal(e2.code, grpc.status.INVALID_ARGUMENT);
    t.match(e2.details, /prompt \(\d+ tokens\) \+ max_tokens \(400\) exceeds the model's context of 512 tokens/);
  });

  t.test('negative temperature → INVALID_ARGUMENT', async (t) => {
    const e = await fail({ ...good, temperature: -1 });
    t.equal(e.code, grpc.status.INVALID_ARGUMENT);
    t.equal(e.metadata.get('moc-error-field')[0], 'temperature');
  });

  t.test('a prompt of 1 MB → INVALID_ARGUMENT with the limit', async (t) => {
    const e = await fail({ ...good, prompt: 'a'.repeat(1024 * 1024) });
    t.equal(e.code, grpc.status.INVALID_ARGUMENT);
    t.match(e.details, /prompt: is 1048576 bytes; the limit is 65536 \(limits.maxPromptBytes\)/);
  });

  t.test('a message over the transport cap (5 MB) → RESOURCE_EXHAUSTED from grpc-js, server unharmed', async (t) => {
    const e = await fail({ ...good, prompt: 'a'.repeat(5 * 1024 * 1024) });
    t.equal(e.code, grpc.status.RESOURCE_EXHAUSTED);
  });

  t.test('a deadline of 1 ms → DEADLINE_EXCEEDED, and the sequence is freed', async (t) => {
    const e = await fail({ ...good, max_tokens: 200 }, { deadlineMs: 1 });
    t.equal(e.code, grpc.status.DEADLINE_EXCEEDED);
    await until(
      'sequences free',
      async () => {
        const m = (await h.unary('GetDevices', {})).devices[0].models[0];
        return m.in_flight === 0 && m.queued === 0;
      },
      10_000,
    );
    t.pass('no sequence left running');
  });

  t.test('a cancelled stream stops its generation and frees its sequence', async (t) => {
    let cancelled = false;
    const err = await h
      .stream(
        { ...good, max_tokens: 500, prompt: 'go' },
        {
          onChunk: (_c, call) => {
            if (!cancelled) {
              cancelled = true;
              call.cancel();
            }
          },
        },
      )
      .then(
        () => null,
        (e) => e as grpc.ServiceError,
      );
    t.equal(err?.code, grpc.status.CANCELLED, 'the client sees CANCELLED');
    const m = await until(
      'sequence freed',
      async () => {
        const m = (await h.unary('GetDevices', {})).devices[0].models[0];
        return m.in_flight === 0 ? m : undefined;
      },
      10_000,
    );
    t.equal(m.in_flight, 0);
  });

  t.test('wrong types and unknown values are refused, not coerced into surprises', async (t) => {
    const e = await fail({ ...good, model: 'bad name with spaces' });
    t.equal(e.code, grpc.status.INVALID_ARGUMENT);
    t.equal(e.metadata.get('moc-error-field')[0], 'model');
    const e2 = await fail({ ...good, priority: 1000 });
    t.equal(e2.metadata.get('moc-error-field')[0], 'priority');
  });

  t.test('after all of that the server still serves', async (t) => {
    const r = await h.unary('Infer', good);
    t.ok(r.tokens_generated > 0);
  });
});
