import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoPath, startHarness } from '../helpers/coordinator.js';

const SECRET = 'SECRET-LINE root:x:0:0:do-not-echo';

t.test(
  'the engine loads only the file the catalog inspected: inside the models root, same size and mtime',
  async (t) => {
    const h = await startHarness(t);
    const dev = h.coordinator.devices.get('cpu0')!;
    const root = h.modelsRoot;
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'moc-outside-'));
    t.teardown(() => fs.rmSync(outside, { recursive: true, force: true }));
    fs.copyFileSync(demoPath(h), path.join(outside, 'model.gguf'));
    fs.writeFileSync(path.join(outside, 'secret.txt'), `${SECRET}\n`.repeat(64));

    // A spec as the lifecycle sends it, with the facts the catalog recorded of `rel` when it was registered.
    const spec = (name: string, rel: string, facts = fs.statSync(path.join(root, rel))) => ({
      name,
      path: path.join(root, rel),
      contextSize: 256,
      sequences: 1,
      keepAliveMs: -1,
      pinned: false,
      file: { root, bytes: facts.size, mtimeMs: facts.mtimeMs },
    });
    const load = (s: object) => dev.ask({ kind: 'load', model: s as any }, { timeoutMs: 30_000 }).catch((e) => e);
    const refused = (t: any, e: any, why: RegExp, what: string) => {
      t.equal(e?.code, 'MOC_ERR_LOAD_FAILED', `${what}: refused with a coded error`);
      t.match(e?.message, why, `${what}: says why`);
      t.notMatch(e?.message, /SECR|do-not-echo/, `${what}: quotes nothing of the file`);
      t.notOk(e?.message?.includes(root) || e?.message?.includes(outside), `${what}: shows no absolute server path`);
    };

    const good = await load(spec('good', 'moc-demo.gguf'));
    t.equal(good.state, 'loaded', 'an unchanged file inside the root loads (through /proc/self/fd)');

    // Registered as a symlink inside the root, then re-pointed outside it.
    fs.symlinkSync(path.join(outside, 'model.gguf'), path.join(root, 'link.gguf'));
    const e1 = await load(spec('link', 'link.gguf'));
    refused(t, e1, /outside the models root.*register it again/, 'a symlink re-pointed to a GGUF outside the root');
    t.match(e1?.message, /link\.gguf/, 'names the file as registered (relative)');
    const est = await dev
      .ask({ kind: 'estimate', model: spec('link', 'link.gguf') as any }, { timeoutMs: 30_000 })
      .catch((e) => e);
    t.equal(est?.code, 'MOC_ERR_LOAD_FAILED', 'the estimate refuses it too');

    fs.rmSync(path.join(root, 'link.gguf'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'link.gguf'));
    refused(
      t,
      await load(spec('link', 'link.gguf')),
      /outside the models root/,
      'a symlink re-pointed to a text file outside the root',
    );

    // A non-GGUF file inside the root whose facts match: the parser's error would quote its first bytes.
    fs.writeFileSync(path.join(root, 'text.gguf'), `${SECRET}\n`.repeat(64));
    refused(t, await load(spec('text', 'text.gguf')), /not a GGUF file \(bad magic\)/, 'a text file');

    // Rewritten in place after registration: truncated, and same size with a new mtime.
    fs.copyFileSync(demoPath(h), path.join(root, 'copy.gguf'));
    const facts = fs.statSync(path.join(root, 'copy.gguf'));
    fs.truncateSync(path.join(root, 'copy.gguf'), Math.floor(facts.size / 2));
    refused(
      t,
      await load(spec('copy', 'copy.gguf', facts)),
      /changed since registration.*register it again/,
      'a truncated file',
    );
    fs.copyFileSync(demoPath(h), path.join(root, 'copy.gguf'));
    fs.utimesSync(path.join(root, 'copy.gguf'), new Date(), new Date(facts.mtimeMs + 5000));
    refused(
      t,
      await load(spec('copy', 'copy.gguf', facts)),
      /changed since registration/,
      'a file rewritten with the same size',
    );

    const s = await dev.ask({ kind: 'status' }, { timeoutMs: 5000 });
    t.equal(
      s.memory.reserved,
      s.models.filter((m: any) => m.state === 'loaded').reduce((n: number, m: any) => n + m.reservedBytes, 0),
      'refused loads hold no memory',
    );
  },
);
