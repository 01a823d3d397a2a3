/**
 * The model list is answered from the lifecycle's live view, a page at a time: by name, `limit` (≤ 1000) and the
 * opaque `cursor` from the page before, the same on gRPC, REST and ZMQ; a bad limit or a cursor this server did not
 * give is a coded INVALID_ARGUMENT. In-flight counters reach the list from the devices' notices, without asking them.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { errorCode, startHarness, until, type Harness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';
import { longModel, LONG_MAX_TOKENS, startGeneration } from '../helpers/long-generation.js';

const NAMES = ['a-1', 'a-2', 'b-1', 'b-2', 'c-1'];

async function registerAll(h: Harness): Promise<void> {
  for (const name of NAMES) await h.unary('RegisterModel', { name, path: 'moc-demo.gguf' });
}

/** Walks every page with `page(cursor)`; returns the names in order and the page sizes. */
async function walk(
  page: (cursor: string) => Promise<{ names: string[]; next: string }>,
): Promise<{ names: string[]; sizes: number[] }> {
  const names: string[] = [];
  const sizes: number[] = [];
  let cursor = '';
  do {
    const p = await page(cursor);
    names.push(...p.names);
    sizes.push(p.names.length);
    cursor = p.next;
  } while (cursor && sizes.length < 20);
  return { names, sizes };
}

t.test('pages of 2 by name on gRPC, REST and ZMQ; the default is one page of everything', async (t) => {
  const h = await startHarness(t);
  await registerAll(h);
  const all = [...NAMES, 'moc-demo'];

  const viaGrpc = await walk(async (cursor) => {
    const r = await h.unary('ListModels', { limit: 2, cursor });
    return { names: r.models.map((m: { name: string }) => m.name), next: r.next_cursor };
  });
  t.same(viaGrpc, { names: all, sizes: [2, 2, 2] }, 'gRPC');

  const viaRest = await walk(async (cursor) => {
    const r = (await (
      await fetch(`${h.restUrl}/v1/models?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    ).json()) as { models: Array<{ name: string }>; next_cursor: string };
    return { names: r.models.map((m) => m.name), next: r.next_cursor };
  });
  t.same(viaRest, { names: all, sizes: [2, 2, 2] }, 'REST');

  const viaZmq = await walk(async (cursor) => {
    const r = await zmqRequest(h.zmqUrl, { action: 'list_models', limit: 2, ...(cursor ? { cursor } : {}) });
    return { names: r.models.map((m: { name: string }) => m.name), next: r.next_cursor };
  });
  t.same(viaZmq, { names: all, sizes: [2, 2, 2] }, 'ZMQ');

  const whole = (await (await fetch(`${h.restUrl}/v1/models`)).json()) as {
    models: Array<{ name: string }>;
    next_cursor: string;
  };
  t.same(
    whole.models.map((m) => m.name),
    all,
    'no limit: up to 1000 in one page',
  );
  t.equal(whole.next_cursor, '', 'and no next page');

  // A model registered between two pages appears in a later page if its name sorts after the cursor.
  const first = await h.unary('ListModels', { limit: 3 });
  await h.unary('RegisterModel', { name: 'b-3', path: 'moc-demo.gguf' });
  const rest = await h.unary('ListModels', { cursor: first.next_cursor });
  t.same(
    rest.models.map((m: { name: string }) => m.name),
    ['b-2', 'b-3', 'c-1', 'moc-demo'],
    'the next page continues after the last name',
  );
});

t.test('a bad limit or cursor is INVALID_ARGUMENT on every transport', async (t) => {
  const h = await startHarness(t);
  for (const q of ['limit=0', 'limit=1001', 'cursor=nonsense', 'cursor=12345', 'sort=name']) {
    const r = await fetch(`${h.restUrl}/v1/models?${q}`);
    t.equal(r.status, 400, `REST ?${q}`);
    t.match(await r.json(), { error: { code: 'MOC_ERR_INVALID_ARGUMENT' } });
  }
  const err = await h.unary('ListModels', { cursor: 'not-ours' }).catch((e: grpc.ServiceError) => e);
  t.equal((err as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT, 'gRPC');
  t.equal(errorCode(err), 'MOC_ERR_INVALID_ARGUMENT');
  t.match(
    await zmqRequest(h.zmqUrl, { action: 'list_models', limit: 5000 }),
    { status: 'error', code: 'INVALID_ARGUMENT', message: /limit/ },
    'ZMQ',
  );
});

t.test("in-flight counters reach the list from the device's notices while a generation runs", async (t) => {
  const h = await startHarness(t);
  await h.unary('LoadModel', longModel('long', 1));
  // Greedy: at the default temperature the demo model sometimes ends at its end token within 20 tokens (measured: 17),
  // over before the list could show it; greedy, it runs all LONG_MAX_TOKENS.
  const gen = startGeneration(h.client, {
    model: 'long',
    prompt: 'count',
    max_tokens: LONG_MAX_TOKENS,
    temperature: 0,
  });
  await gen.started;
  const inFlight = async () => {
    const r = (await (await fetch(`${h.restUrl}/v1/models?limit=1000`)).json()) as {
      models: Array<{ name: string; in_flight: number }>;
    };
    return r.models.find((m) => m.name === 'long')?.in_flight;
  };
  await until('the list shows the generation in flight', async () => (await inFlight()) === 1, 10_000);
  gen.cancel();
  await gen.ended;
  await until('and back to 0 once it ended', async () => (await inFlight()) === 0, 10_000);
  t.pass('the list followed the device');
});
