import t from 'tap';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { writeGguf } from '../../src/model/gguf-writer.js';
import { startHarness } from '../helpers/coordinator.js';

// Answers name files relative to the models root, as clients gave them: the server's filesystem layout is not
// the client's business. Every failing request below must answer without the absolute root.

t.test('failing registrations and loads answer with paths relative to the models root', async (t) => {
  const h = await startHarness(t);
  const root = h.modelsRoot;
  const roots = [root, realpathSync(root)];
  const demo = readFileSync(path.join(root, 'moc-demo.gguf'));
  mkdirSync(path.join(root, 'a-dir.gguf'));
  writeFileSync(path.join(root, 'broken.gguf'), Buffer.concat([demo.subarray(0, 4), Buffer.from([9, 0, 0, 0])]));
  writeFileSync(path.join(root, 'truncated.gguf'), demo.subarray(0, demo.length - 1000));
  writeFileSync(path.join(root, 'gone.gguf'), demo);
  mkdirSync(path.join(h.dir, 'elsewhere'), { recursive: true });
  writeFileSync(path.join(h.dir, 'elsewhere', 'x.gguf'), demo);
  symlinkSync(path.join(h.dir, 'elsewhere', 'x.gguf'), path.join(root, 'escape.gguf'));

  const post = async (url: string, body: object) => {
    const r = await fetch(h.restUrl + url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, text: await r.text() };
  };
  const failing: Array<[string, string, object]> = [
    ['missing file', '/v1/models', { name: 'missing', path: 'no-such.gguf' }],
    ['missing file in a missing dir', '/v1/models', { name: 'missing2', path: 'sub/no-such.gguf' }],
    ['outside the root', '/v1/models', { name: 'escape', path: 'escape.gguf' }],
    ['broken GGUF', '/v1/models', { name: 'broken', path: 'broken.gguf' }],
    ['truncated GGUF', '/v1/models', { name: 'truncated', path: 'truncated.gguf' }],
    ['a directory', '/v1/models', { name: 'dir', path: 'a-dir.gguf' }],
    ['load with a missing path', '/v1/models/nothere/load', { path: 'no-such.gguf' }],
  ];
  t.equal((await post('/v1/models', { name: 'gone', path: 'gone.gguf' })).status, 201);
  // A header our inspector accepts but the engine refuses: the engine's own message reaches the client.
  writeFileSync(
    path.join(root, 'alien.gguf'),
    writeGguf({ 'general.architecture': { type: 'string', value: 'no-such-arch' } }, [
      { name: 'w', dims: [8], data: new Float32Array(8) },
    ]),
  );
  t.equal((await post('/v1/models', { name: 'alien', path: 'alien.gguf' })).status, 201);
  failing.push(['load of a file the engine refuses', '/v1/models/alien/load', {}]);
  unlinkSync(path.join(root, 'gone.gguf'));
  failing.push(['load of a file deleted since registration', '/v1/models/gone/load', {}]);

  for (const [what, url, body] of failing) {
    const r = await post(url, body);
    t.ok(r.status >= 400, `${what}: refused (${r.status})`);
    t.match(JSON.parse(r.text), { error: { code: /^MOC_ERR_/ } }, `${what}: a coded error`);
    for (const abs of roots) t.notOk(r.text.includes(abs), `${what}: the answer does not contain ${abs}: ${r.text}`);
  }
});
