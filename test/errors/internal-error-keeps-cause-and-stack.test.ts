import t from 'tap';
import { MocError, toMocError, errors } from '../../src/errors.js';

function throwsDeepInsideABug(): never {
  throw new Error('x');
}

function caught(): Error {
  try {
    throwsDeepInsideABug();
  } catch (err) {
    return err as Error;
  }
}

t.test('toMocError keeps what was thrown as cause and shows where it was thrown in its stack', async (t) => {
  const original = caught();
  const e = toMocError(original);
  t.equal(e.code, 'MOC_ERR_INTERNAL');
  t.match(e.message, /internal error: x/);
  t.equal(e.cause, original, 'the original error is the cause');
  t.match(e.stack, /throwsDeepInsideABug/, 'the stack names the function that threw');
  t.match(e.stack, /internal-error-keeps-cause-and-stack\.test\.ts/, 'and its file');
  t.ok(e.stack!.includes(original.stack!), 'the whole original stack is kept');
});

t.test('a thrown non-Error is kept as cause too; a MocError passes through untouched', async (t) => {
  t.equal(toMocError('a string').cause, 'a string');
  const busy = errors.busy('queue', 1);
  t.equal(toMocError(busy), busy);
});

t.test('a MocError takes a cause (ES2022 { cause }) and a reworded copy keeps code, cause and stack', async (t) => {
  const cause = caught();
  const e = new MocError(
    'MOC_ERR_LOAD_FAILED',
    'cannot load /srv/models/a.gguf',
    { path: '/srv/models/a.gguf' },
    { cause },
  );
  t.equal(e.cause, cause);
  const r = e.reworded('cannot load a.gguf', { path: 'a.gguf' });
  t.equal(r.code, 'MOC_ERR_LOAD_FAILED');
  t.equal(r.message, 'cannot load a.gguf');
  t.same(r.details, { path: 'a.gguf' });
  t.equal(r.cause, cause);
  t.equal(r.stack, e.stack);
});
