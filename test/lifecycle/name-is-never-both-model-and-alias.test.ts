import t from 'tap';
import type { Test } from 'tap';
import { startHarness, type Harness } from '../helpers/coordinator.js';

// A name is either a model or an alias, never both: registering X and pointing an alias X somewhere at the same
// moment must leave exactly one of them, in memory, in LMDB and after a restart.
const NAMES = Array.from({ length: 20 }, (_, i) => `race-${i}`);

async function post(h: Harness, method: string, url: string, body: object) {
  const r = await fetch(h.restUrl + url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as any };
}

async function checkDisjoint(t: Test, h: Harness, when: string) {
  const list = (await fetch(`${h.restUrl}/v1/models`).then((r) => r.json())) as {
    models: { name: string; aliases: string[] }[];
  };
  const models = new Set(list.models.map((m) => m.name));
  const aliases = new Set(list.models.flatMap((m) => m.aliases));
  const both = [...models].filter((n) => aliases.has(n));
  t.same(both, [], `${when}: no name is both a model and an alias (GET /v1/models)`);
  const stored = new Set(h.coordinator.store.listModels().map((e) => e.name));
  const storedBoth = h.coordinator.store
    .listAliases()
    .map(([a]) => a)
    .filter((a) => stored.has(a));
  t.same(storedBoth, [], `${when}: no name is both in the store`);
  for (const n of NAMES) {
    t.ok(models.has(n) !== aliases.has(n), `${when}: ${n} is exactly one of model or alias`);
    // A model that won its name must be reachable by it (an alias of the same name used to shadow it).
    const got = (await fetch(`${h.restUrl}/v1/models/${n}`).then((r) => r.json())) as { name: string };
    t.equal(got.name, models.has(n) ? n : 'moc-demo', `${when}: ${n} reaches what it names`);
  }
}

t.test('register(X) racing setAlias(X): one wins, the other is refused with a coded 400', async (t) => {
  const h = await startHarness(t);
  const answers = await Promise.all(
    NAMES.flatMap((name) => [
      post(h, 'POST', '/v1/models', { name, path: 'moc-demo.gguf' }),
      post(h, 'PUT', `/v1/aliases/${name}`, { target: 'moc-demo' }),
    ]),
  );
  for (const a of answers) {
    if (a.status === 200 || a.status === 201) continue;
    t.equal(a.status, 400, `refused as a bad request: ${JSON.stringify(a.body)}`);
    t.equal(a.body.error?.code, 'MOC_ERR_INVALID_ARGUMENT');
  }
  await checkDisjoint(t, h, 'live');
  const dir = h.dir;
  await h.close();
  const again = await startHarness(t, {}, { dir });
  await checkDisjoint(t, again, 'after restart');
  const r = await post(again, 'POST', '/v1/infer', { model: 'moc-demo', prompt: 'hi', max_tokens: 2, temperature: 0 });
  t.equal(r.status, 200, 'the alias target is still reachable');
});
