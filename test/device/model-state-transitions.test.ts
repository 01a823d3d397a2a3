import t from 'tap';
import { type LifeState, ModelLife, REPORTED, TRANSITIONS } from '../../actors/device/model-state.js';
import { errors } from '../../src/errors.js';

const STATES = Object.keys(TRANSITIONS) as LifeState[];

/** A model walked from 'reserving' through `path`. */
const walk = (...path: LifeState[]): ModelLife => {
  const life = new ModelLife('m');
  for (const s of path) life.to(s);
  return life;
};

/** The shortest legal path from 'reserving' to `target` (breadth first over TRANSITIONS). */
const pathTo = (target: LifeState): LifeState[] | undefined => {
  const paths = new Map<LifeState, LifeState[]>([['reserving', []]]);
  for (const [state, path] of paths) {
    if (state === target) return path;
    for (const next of TRANSITIONS[state]) if (!paths.has(next)) paths.set(next, [...path, next]);
  }
  return undefined;
};

t.test('the lives the device actor drives are legal', async (t) => {
  t.equal(new ModelLife('m').state, 'reserving', 'a new model starts reserving');
  const lives: LifeState[][] = [
    ['loading', 'loaded', 'draining', 'unloading', 'gone'], // load, unload
    ['gone'], // its reservation refused
    ['loading', 'loaded', 'waiting-engine', 'loading', 'loaded'], // engine died while loaded: reloaded
    ['loading', 'waiting-engine', 'draining', 'unloading', 'gone'], // engine died mid-load, then unloaded
    ['loading', 'cancelling', 'failed', 'gone'], // load timed out, the engine let go, loaded again (a new entry)
    ['loading', 'cancelling', 'draining', 'unloading', 'gone'], // unloaded before the engine let go
    ['loading', 'cancelling', 'failed', 'draining', 'unloading', 'gone'], // a failed model unloaded
  ];
  for (const path of lives) t.equal(walk(...path).state, path.at(-1), path.join(' → '));
});

t.test('a transition the table does not allow throws, naming both states, and changes nothing', async (t) => {
  const life = walk('loading', 'loaded');
  t.throws(() => life.to('loading'), { message: "model 'm': illegal transition loaded → loading" });
  t.equal(life.state, 'loaded');
  t.throws(() => walk('loading', 'loaded', 'draining').to('loaded'), /draining → loaded/);
  t.throws(() => walk('gone').to('reserving'), /gone → reserving/, 'nothing follows gone');
  // Every pair the table leaves out throws (each state reached by legal steps: every state is reachable).
  for (const from of STATES) {
    const path = pathTo(from);
    t.ok(path, `${from} is reachable`);
    for (const to of STATES) {
      if (TRANSITIONS[from].includes(to)) continue;
      t.throws(() => walk(...path!).to(to), new RegExp(`${from} → ${to}$`));
    }
  }
});

t.test('every state but gone is reported as a state of the device protocol', async (t) => {
  t.same(Object.keys(REPORTED).sort(), STATES.filter((s) => s !== 'gone').sort());
  t.equal(walk('loading', 'waiting-engine').reported, 'loading');
  t.equal(walk('loading', 'cancelling').reported, 'failed');
  t.equal(walk('loading', 'loaded', 'draining').reported, 'unloading');
  t.throws(() => walk('gone').reported, /gone/);
});

t.test('until wakes at the state with the cause of the transition; gone ends every wait', async (t) => {
  const life = walk('loading');
  const order: string[] = [];
  const loaded = life.until('loaded', 'cancelling').then((r) => order.push(`a:${r.state}`));
  const drained = life.until('draining').then((r) => order.push(`b:${r.state}`));
  const failure = errors.unavailable('engine died');
  life.to('waiting-engine', failure);
  t.same(await life.until('waiting-engine'), { state: 'waiting-engine', cause: failure }, 'at once, with its cause');
  t.same(order, [], 'a state nobody waits for wakes nobody');
  life.to('loading');
  t.equal(life.cause, undefined, 'a transition without an error clears the cause');
  life.to('loaded');
  await loaded;
  t.same(order, ['a:loaded']);
  life.to('draining');
  life.to('unloading');
  await drained;
  const late = life.until('loaded');
  life.to('gone');
  t.same(await late, { state: 'gone' }, 'a wait for a state that can no longer come ends at gone');
  t.same(order, ['a:loaded', 'b:draining']);
});
