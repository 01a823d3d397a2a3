/**
 * The device's queue of a model, seen from a client: requests wait for a sequence in priority order (higher first,
 * FIFO within a priority), past maxQueue they are refused Busy whatever their priority, a queued request cancelled
 * leaves at once without touching the running one, and the counters say what runs and what waits.
 */
import t from 'tap';
import { startHarness, until } from '../helpers/coordinator.js';
import { LONG_MAX_TOKENS, longModel } from '../helpers/long-generation.js';

t.test(
  'one sequence: queued requests run by priority, then arrival; Busy past maxQueue; a cancelled one leaves',
  async (t) => {
    // maxQueue 4: four requests may wait for the one sequence.
    const h = await startHarness(t, { devices: [{ id: 'cpu0', memory: '1GiB', maxQueue: 4 }] });
    const dev = h.coordinator.devices.get('cpu0')!;
    const m = longModel('one');
    await h.unary('LoadModel', m);
    const status = async () =>
      (await dev.ask({ kind: 'status' }, { timeoutMs: 5000 })).models.find((x: any) => x.name === 'one')!;
    const finished: string[] = [];
    const infer = (
      id: string,
      priority: number,
      o: { maxTokens?: number; signal?: AbortSignal; onEvent?: () => void } = {},
    ) =>
      dev
        .ask(
          {
            kind: 'infer',
            requestId: id,
            model: 'one',
            prompt: `request ${id}`,
            maxTokens: o.maxTokens ?? 4,
            temperature: 0,
            stop: [],
            priority,
            stream: !!o.onEvent,
          },
          {
            timeoutMs: 120_000,
            ...(o.signal ? { signal: o.signal } : {}),
            ...(o.onEvent ? { onEvent: o.onEvent } : {}),
          },
        )
        .then(
          () => {
            finished.push(id);
            return 'OK';
          },
          (e: any) => {
            finished.push(`${id}:${e.code}`);
            return e.code as string;
          },
        );

    // Holds the one sequence (a streamed token proves it runs) until it is cancelled.
    const hold = async (id: string) => {
      const stop = new AbortController();
      let started!: () => void;
      const running = new Promise<void>((r) => {
        started = r;
      });
      const done = infer(id, 0, { maxTokens: LONG_MAX_TOKENS, signal: stop.signal, onEvent: () => started() });
      await running;
      return { stop: () => stop.abort(), done };
    };

    const a = await hold('A');
    const b = infer('B', 0);
    await until('B queued', async () => (await status()).queued === 1);
    const c = infer('C', 0);
    const d = infer('D', 5); // outranks B and C, which arrived first
    const e = infer('E', 0);
    const s = await until('one running, four waiting', async () => {
      const x = await status();
      return x.queued === 4 ? x : undefined;
    });
    t.equal(s.inFlight, 1, 'one runs');
    t.equal(await infer('F', 9), 'MOC_ERR_BUSY', 'a fifth waiting request is refused, whatever its priority');
    a.stop();
    t.same(await Promise.all([a.done, b, c, d, e]), ['MOC_ERR_CANCELLED', 'OK', 'OK', 'OK', 'OK']);
    t.same(
      finished,
      ['F:MOC_ERR_BUSY', 'A:MOC_ERR_CANCELLED', 'D', 'B', 'C', 'E'],
      'D (priority 5) ran first, then B, C and E in arrival order',
    );

    // Cancelled while it waits: answered at once, the running request untouched.
    finished.length = 0;
    const g = await hold('G');
    const stopH = new AbortController();
    const hh = infer('H', 0, { signal: stopH.signal });
    await until('H queued', async () => (await status()).queued === 1);
    const i = infer('I', 0);
    stopH.abort();
    t.equal(await hh, 'MOC_ERR_CANCELLED', 'H, cancelled while it waited, is answered while G still runs');
    t.equal((await status()).inFlight, 1, 'G still holds the sequence');
    g.stop();
    t.same(await Promise.all([g.done, i]), ['MOC_ERR_CANCELLED', 'OK']);
    t.same(finished, ['H:MOC_ERR_CANCELLED', 'G:MOC_ERR_CANCELLED', 'I']);
    const idle = await until('all done', async () => {
      const x = await status();
      return x.inFlight === 0 && x.queued === 0 ? x : undefined;
    });
    t.equal(idle.state, 'loaded');
  },
);
