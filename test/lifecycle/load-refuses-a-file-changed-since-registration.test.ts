import t from 'tap';
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { startHarness, type Harness } from '../helpers/coordinator.js';

// The catalog vouches for a file (inside the models root, its size, mtime, header, sha256) at registration. A load
// must not trust that the path still names that file: links get re-pointed, files get rewritten or truncated.

async function rest(h: Harness, url: string, body: object = {}) {
  const r = await fetch(h.restUrl + url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as any };
}

/** A later write: the file's mtime moves on even on filesystems with coarse timestamps. */
function touchLater(file: string) {
  const s = statSync(file);
  utimesSync(file, s.atime, new Date(s.mtimeMs + 10_000));
}

t.test(
  'a symlink re-pointed outside the root after registration is refused at load, without echoing the file',
  async (t) => {
    const h = await startHarness(t);
    const root = h.modelsRoot;
    copyFileSync(path.join(root, 'moc-demo.gguf'), path.join(root, 'inside.gguf'));
    const outside = path.join(h.dir, 'outside');
    mkdirSync(outside, { recursive: true });
    const gguf = path.join(outside, 'other.gguf');
    await writeTinyLlamaGguf(gguf, { seed: 9 }); // a valid model the engine would happily map
    const secret = path.join(outside, 'secret.txt');
    writeFileSync(secret, 'SECRET-FIRST-LINE root:x:0:0:root:/root:/bin/bash\n'.repeat(200));

    for (const [name, target] of [
      ['to-gguf', gguf],
      ['to-secret', secret],
    ] as const) {
      const link = path.join(root, `${name}.gguf`);
      symlinkSync('inside.gguf', link);
      t.equal(
        (await rest(h, '/v1/models', { name, path: `${name}.gguf` })).status,
        201,
        `${name}: registered through the link`,
      );
      unlinkSync(link);
      symlinkSync(target, link);
      const r = await rest(h, `/v1/models/${name}/load`);
      t.not(r.status, 200, `${name}: not loaded from ${path.basename(target)}`);
      t.equal(r.body.error?.code, 'MOC_ERR_LOAD_FAILED', `${name}: a coded refusal`);
      t.match(r.body.error?.message, /changed since registration.*register it again/, `${name}: says what to do`);
      const answer = JSON.stringify(r.body);
      t.notMatch(answer, 'SECRET', `${name}: nothing of the outside file is echoed`);
      t.notMatch(answer, outside, `${name}: nor where it is`);
      t.notMatch(answer, root, `${name}: nor the absolute models root`);
      const m = (await fetch(`${h.restUrl}/v1/models/${name}`).then((r) => r.json())) as any;
      t.not(m.state, 'loaded', `${name}: the model is not loaded`);
    }
  },
);

t.test(
  'a file rewritten or truncated in place is refused as changed; registering it again makes it loadable',
  async (t) => {
    const h = await startHarness(t);
    const root = h.modelsRoot;
    const demo = readFileSync(path.join(root, 'moc-demo.gguf'));
    writeFileSync(path.join(root, 'rw.gguf'), demo);
    writeFileSync(path.join(root, 'short.gguf'), demo);
    const first = await rest(h, '/v1/models', { name: 'rw', path: 'rw.gguf' });
    t.equal(first.status, 201);
    t.equal((await rest(h, '/v1/models', { name: 'short', path: 'short.gguf' })).status, 201);

    await writeTinyLlamaGguf(path.join(root, 'rw.gguf'), { seed: 9 }); // different weights, same name
    touchLater(path.join(root, 'rw.gguf'));
    truncateSync(path.join(root, 'short.gguf'), Math.floor(demo.length / 2));

    for (const name of ['rw', 'short']) {
      const r = await rest(h, `/v1/models/${name}/load`);
      t.equal(r.status, 422, `${name}: refused`);
      t.equal(r.body.error?.code, 'MOC_ERR_LOAD_FAILED');
      t.match(
        r.body.error?.message,
        /changed since registration.*register it again/,
        `${name}: says why and what to do`,
      );
      t.notMatch(JSON.stringify(r.body), root, `${name}: no absolute models root in the answer`);
      // Inference loads on demand through the same path: also refused, never served from the changed file.
      const inf = await rest(h, '/v1/infer', { model: name, prompt: 'x', max_tokens: 1 });
      t.not(inf.status, 200, `${name}: inference does not load it either`);
    }

    const again = await rest(h, '/v1/models', { name: 'rw', path: 'rw.gguf' });
    t.equal(again.status, 201, 'registered again');
    t.not(again.body.sha256, first.body.sha256, "with the new file's sha256");
    const loaded = await rest(h, '/v1/models/rw/load');
    t.equal(loaded.status, 200, 'then it loads');
    t.equal(loaded.body.state, 'loaded');
  },
);
