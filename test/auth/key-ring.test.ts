/** KeyRing alone: where keys come from, what is refused at start, and that keys never leak into names or errors. */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { KeyRing, credentialFrom, isLoopback } from '../../src/auth/keys.js';

const auth = (o: Record<string, unknown> = {}) => ({ auth: { required: false, keys: [], keysFile: '', ...o } as any });

t.test('keys from config, a keys file and MOC_API_KEYS', async (t) => {
  const file = path.join(t.testdir(), 'keys.txt');
  writeFileSync(file, '# operators\nadmin:ops:file-admin-key-0123456789\n\ninfer:file-infer-key-0123456789\n');
  const ring = KeyRing.fromConfig(
    auth({ keys: [{ role: 'infer', key: 'config-infer-key-0123456789' }], keysFile: file }),
    { MOC_API_KEYS: 'admin:ci:env-admin-key-0123456789, infer:env-infer-key-0123456789' },
  );
  t.equal(ring.size, 5);
  t.same(ring.authenticate('file-admin-key-0123456789'), { role: 'admin', name: 'ops' });
  t.same(ring.authenticate('env-admin-key-0123456789'), { role: 'admin', name: 'ci' });
  const anon = ring.authenticate('config-infer-key-0123456789');
  t.equal(anon.role, 'infer');
  t.match(anon.name, /^key-[0-9a-f]{8}$/, 'an unnamed key is named by a fingerprint of its hash');
  t.notMatch(anon.name, /config-infer/, 'never by the key');
  t.throws(() => ring.check('file-infer-key-0123456789', 'load'), { code: 'MOC_ERR_PERMISSION_DENIED' });
  t.doesNotThrow(() => ring.check('file-infer-key-0123456789', 'infer'));
  t.doesNotThrow(() => ring.check('file-admin-key-0123456789', 'unload'));
});

t.test('refused at start: short, duplicate, malformed, required without keys, unreadable file', async (t) => {
  t.throws(() => KeyRing.fromConfig(auth(), { MOC_API_KEYS: 'admin:short' }), /shorter than 16 characters/);
  t.throws(
    () => KeyRing.fromConfig(auth(), { MOC_API_KEYS: 'root:some-long-key-0123456789' }),
    /role admin, trainer or infer/,
  );
  t.throws(
    () =>
      KeyRing.fromConfig(auth({ keys: [{ role: 'admin', key: 'same-key-0123456789ab' }] }), {
        MOC_API_KEYS: 'infer:same-key-0123456789ab',
      }),
    /configured twice/,
  );
  t.throws(() => KeyRing.fromConfig(auth({ required: true }), {}), /auth\.required is true but no API keys/);
  t.throws(() => KeyRing.fromConfig(auth({ keysFile: '/nonexistent/keys.txt' }), {}), /auth\.keysFile: cannot read/);
  try {
    KeyRing.fromConfig(auth(), { MOC_API_KEYS: 'admin:tiny-secret' });
  } catch (err) {
    t.notMatch((err as Error).message, /tiny-secret/, 'a rejected key is not repeated in the error');
  }
});

t.test('authentication answers', async (t) => {
  const ring = KeyRing.fromConfig(auth({ keys: [{ role: 'admin', key: 'the-admin-key-0123456789' }] }), {});
  t.throws(() => ring.authenticate(undefined), { code: 'MOC_ERR_UNAUTHENTICATED', message: /has none/ });
  t.throws(() => ring.authenticate(''), { code: 'MOC_ERR_UNAUTHENTICATED' });
  try {
    ring.authenticate('guess-0123456789');
    t.fail('accepted');
  } catch (err) {
    t.notMatch((err as Error).message, /guess/, 'the presented key is not in the error');
  }
  const open = KeyRing.fromConfig(auth(), {});
  t.ok(open.open);
  t.same(open.authenticate(undefined), { role: 'admin', name: 'open' }, 'no keys: open demo mode');
  t.equal(credentialFrom('Bearer abc', undefined), 'abc');
  t.equal(credentialFrom('bearer   abc ', undefined), 'abc');
  t.equal(credentialFrom('Basic abc', undefined), undefined);
  t.equal(credentialFrom(undefined, 'xyz'), 'xyz');
  t.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost'));
  t.notOk(isLoopback('0.0.0.0') || isLoopback('10.0.0.1'));
});
