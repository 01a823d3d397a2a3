/**
 * A keep-alive past 2^31-1 ms would overflow Node's timer (it fires after 1 ms and unloads the model at once): the
 * config refuses it for configured models and for the default keep-alive, like the request schemas do.
 */
import t from 'tap';
import { resolveConfig, ConfigError } from '../../src/config.js';

t.test('keep-alive values past the timer range are refused at start', async (t) => {
  const dir = t.testdir();
  const month = 2592000000;
  const refusal = (raw: unknown) => {
    try {
      resolveConfig(raw, { baseDir: dir });
      return null;
    } catch (e) {
      return e as Error;
    }
  };
  const a = refusal({ models: [{ name: 'm', path: 'm.gguf', keepAliveMs: month }] });
  t.ok(a instanceof ConfigError, 'a configured model with a 30-day keep-alive is refused');
  t.match(a?.message, /keepAliveMs/, 'naming the field');
  const b = refusal({ lifecycle: { defaultKeepAliveMs: month } });
  t.ok(b instanceof ConfigError, 'so is such a default keep-alive');
  t.match(b?.message, /defaultKeepAliveMs/);
  t.ok(
    resolveConfig({ lifecycle: { defaultKeepAliveMs: 2147483647 } }, { baseDir: dir }),
    'the largest timer value is fine',
  );
});
