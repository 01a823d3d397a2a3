import t from 'tap';
import { EngineClient } from '../../actors/device/engine-client.js';
import type { ChildProcess } from 'node:child_process';

t.test(
  'a call on an engine whose IPC channel just closed fails UNAVAILABLE and reports the death; nothing crashes',
  async (t) => {
    const engine = await EngineClient.start({
      device: 'test',
      env: {},
      start: { device: 'test', threads: 1, gpu: 'cpu', log: { level: 'info', sensitive: false } },
      startTimeoutMs: 60_000,
    });
    t.teardown(() => engine.destroy());
    const died = new Promise<string>((r) => {
      engine.onExit = r;
    });
    // The window the defect lives in: the channel is closed but the process has not exited yet ('exit' comes later).
    (engine as unknown as { child: ChildProcess }).child.disconnect();
    const uncaught: Error[] = [];
    const onUncaught = (err: Error) => {
      uncaught.push(err);
    };
    process.on('uncaughtException', onUncaught);
    t.teardown(() => {
      process.off('uncaughtException', onUncaught);
    });

    const e = await engine
      .estimate({ name: 'x', path: '/nonexistent.gguf', contextSize: 64, sequences: 1 }, 5000)
      .catch((err) => err);
    t.equal(e?.code, 'MOC_ERR_UNAVAILABLE', 'the call fails as retryable');
    t.notOk(engine.alive, 'the engine counts as dead');
    t.match(await died, /code|killed/, 'its death is reported once it exits (the device then restarts it)');
    t.same(
      uncaught.map((x) => x.message),
      [],
      'no uncaught ERR_IPC_CHANNEL_CLOSED',
    );
  },
);
