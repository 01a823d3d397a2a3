import t from 'tap';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { MocError, toMocError, errors, type ErrorData } from '../../src/errors.js';

function throwsInAWorker(): never {
  throw new TypeError('undefined is not a function');
}

/** What crosses a thread (structured clone) and what crosses to the engine process (JSON over IPC). */
function viaPort(d: ErrorData): ErrorData {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(d);
  const got = receiveMessageOnPort(port2)!.message as ErrorData;
  port1.close();
  return got;
}
const viaJson = (d: ErrorData): ErrorData => JSON.parse(JSON.stringify(d));

t.test(
  'an INTERNAL error with a cause round-trips toData/fromData with the original stack, not the cause',
  async (t) => {
    let e!: MocError;
    try {
      throwsInAWorker();
    } catch (err) {
      e = toMocError(err);
    }
    const d = e.toData();
    t.equal(d.code, 'MOC_ERR_INTERNAL');
    t.notOk('cause' in d, 'toData is plain data: no cause');
    t.equal(typeof d.stack, 'string', 'it carries the stack as a string');
    for (const [how, cross] of [
      ['thread', viaPort],
      ['process', viaJson],
    ] as const) {
      const back = MocError.fromData(cross(d));
      t.ok(back instanceof MocError, `${how}: rebuilt as a MocError`);
      t.equal(back.code, e.code);
      t.equal(back.message, e.message);
      t.same(back.details, e.details);
      t.equal(back.stack, e.stack, `${how}: the stack is the original one`);
      t.match(back.stack, /throwsInAWorker/, `${how}: it names where the bug was thrown`);
      t.equal(back.cause, undefined, `${how}: the cause itself does not cross`);
    }
    t.equal(toMocError(viaPort(d)).stack, e.stack, 'toMocError of the data rebuilds the same way');
  },
);

t.test('other codes stay code, message and details only (a stack is for bugs)', async (t) => {
  const cause = new Error('ENOSPC');
  const e = new MocError('MOC_ERR_LOAD_FAILED', 'cannot read a.gguf: no space', { path: 'a.gguf' }, { cause });
  t.same(e.toData(), {
    code: 'MOC_ERR_LOAD_FAILED',
    message: 'cannot read a.gguf: no space',
    details: { path: 'a.gguf' },
  });
  t.same(Object.keys(errors.busy('queue', 4).toData()).sort(), ['code', 'details', 'message']);
  const back = MocError.fromData(viaPort(e.toData()));
  t.equal(back.code, 'MOC_ERR_LOAD_FAILED');
  t.same(back.details, { path: 'a.gguf' });
});
