/**
 * `moc models ls | get | register | load | unload | pin | alias` over REST. A load shows a progress bar on stderr,
 * driven by the model while the load request runs (GET /v1/models/{name} four times a second): its state, and while
 * it loads how far the engine has read its weights (`load_progress`), completing when the server answers. stdout keeps only the result (a table, or JSON with --json).
 */
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { AliasResponse, ModelPageResource, ModelResource, UnloadResponse } from '../../schemas/rest.js';
import type { Api } from './api.js';
import { bytes, emit, fields, table, type OutputOptions } from './output.js';
import { numberOf } from './options.js';
import { LoadRequest, RegisterRequest } from '../../schemas/messages.js';

const R = RegisterRequest.properties;

const enc = encodeURIComponent;

/** `moc models register` / `load` options as commander parses them. */
interface ModelOptions extends OutputOptions {
  device?: string;
  contextSize?: number;
  sequences?: number;
  pinned?: boolean;
  keepAliveMs?: number;
  preload?: boolean;
  path?: string;
  base?: string;
  scale?: number;
  progress?: boolean;
}

function modelRows(models: ModelResource[]): string {
  return table(
    ['name', 'state', 'device', 'memory', 'context', 'in flight', 'pinned', 'aliases'],
    models.map((m) => [
      m.name,
      m.state,
      m.device || '-',
      bytes(m.actual_bytes || m.estimate_bytes),
      m.context_size,
      m.in_flight,
      m.pinned,
      m.aliases.join(',') || '-',
    ]),
  );
}

const modelFields = (m: ModelResource) =>
  fields({
    name: m.name,
    state: m.state,
    device: m.device || '-',
    path: m.path,
    ...(m.base ? { base: m.base, scale: m.scale ?? 1 } : {}),
    memory: bytes(m.actual_bytes || m.estimate_bytes),
    context: m.context_size,
    sequences: m.sequences,
    pinned: m.pinned,
    keep_alive_ms: m.keep_alive_ms,
    aliases: m.aliases.join(',') || '-',
    architecture: m.architecture,
    quantization: m.quantization,
    error: m.error || '-',
  });

/** Every page of the list (the server answers at most 1000 a page). */
async function allModels(api: Api): Promise<ModelResource[]> {
  const out: ModelResource[] = [];
  let cursor = '';
  do {
    const page = await api.json<ModelPageResource>('GET', `/v1/models${cursor ? `?cursor=${enc(cursor)}` : ''}`);
    out.push(...page.models);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** Where a state sits on the load's bar; loading spans 10–95 by the engine's load_progress. */
const PHASE: Record<string, number> = { registered: 10, loading: 10, loaded: 100 };
const barAt = (m: { state: string; load_progress?: number }) =>
  m.state === 'loading' && m.load_progress !== undefined
    ? 10 + Math.round(85 * m.load_progress)
    : (PHASE[m.state] ?? 0);

/**
 * The load request, with a bar that follows the model's state until the answer. `quiet` (--json, or no terminal and
 * no --progress): no bar.
 */
async function loadWithProgress(
  api: Api,
  name: string,
  body: Record<string, unknown>,
  showBar: boolean,
): Promise<ModelResource> {
  const load = api.json<ModelResource>('POST', `/v1/models/${enc(name)}/load`, body);
  if (!showBar) return load;
  const bar = new cliProgress.SingleBar(
    {
      format: `loading ${name} [{bar}] {percentage}% | {state} | {duration}s`,
      stream: process.stderr,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 500,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(100, 0, { state: 'requested' });
  let done = false;
  const poll = (async () => {
    while (!done) {
      try {
        const m = await api.json<ModelResource>('GET', `/v1/models/${enc(name)}`);
        if (!done) bar.update(Math.min(barAt(m), 99), { state: m.state });
      } catch {
        /* not registered yet (a load with a path registers it first) */
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    const m = await load;
    bar.update(100, { state: m.state });
    return m;
  } finally {
    done = true;
    bar.stop();
    await poll;
  }
}

export function modelsCommand(api: () => Api): Command {
  const models = new Command('models').description('the model catalog: list, register, load, unload, pin, alias');
  const json = (c: Command) => c.option('--json', 'print JSON (for scripts) instead of a table');

  json(models.command('ls').description('every registered model with its state, device and memory')).action(
    async (o: OutputOptions) => {
      const ms = await allModels(api());
      emit(o, ms, () => modelRows(ms));
    },
  );

  json(models.command('get <name>').description('one model (or the model an alias points to)')).action(
    async (name: string, o: OutputOptions) => {
      const m = await api().json<ModelResource>('GET', `/v1/models/${enc(name)}`);
      emit(o, m, () => modelFields(m));
    },
  );

  json(
    models
      .command('register <name> <path>')
      .description(
        'register a GGUF file (relative to the models root) without loading it; with --base, a LoRA adapter of that model',
      ),
  )
    .option('--base <model>', 'the file is a LoRA adapter of this registered model')
    .option('--scale <x>', "the adapter's scale (1: as trained; 0: the base's answers)", Number)
    .option('--device <id>', 'device to load it on')
    .option('--context-size <n>', 'tokens of context per sequence', numberOf(R.context_size))
    .option('--sequences <n>', 'parallel sequences', numberOf(R.sequences))
    .option('--pinned', 'never evict or expire it')
    .option(
      '--keep-alive-ms <ms>',
      'idle time before unloading (-1: never)',
      numberOf(R.keep_alive_ms, { note: '-1: never; 0: after each request' }),
    )
    .option('--preload', 'load it now')
    .action(async (name: string, path: string, o: ModelOptions) => {
      const m = await api().json<ModelResource>('POST', '/v1/models', {
        name,
        ...(o.base ? { adapter: path, base: o.base } : { path }),
        ...(o.scale !== undefined ? { scale: o.scale } : {}),
        ...(o.device ? { device: o.device } : {}),
        ...(o.contextSize !== undefined ? { context_size: o.contextSize } : {}),
        ...(o.sequences !== undefined ? { sequences: o.sequences } : {}),
        ...(o.pinned ? { pinned: true } : {}),
        ...(o.keepAliveMs !== undefined ? { keep_alive_ms: o.keepAliveMs } : {}),
        ...(o.preload ? { preload: true } : {}),
      });
      emit(o, m, () => `registered ${m.name} (${m.state})`);
    });

  json(
    models
      .command('load <name>')
      .description('load a model (placement, eviction and coalescing apply), with a progress bar'),
  )
    .option('--path <path>', 'register this GGUF under the name first')
    .option('--device <id>', 'device to load it on')
    .option('--context-size <n>', 'tokens of context per sequence', numberOf(LoadRequest.properties.context_size))
    .option('--sequences <n>', 'parallel sequences', numberOf(LoadRequest.properties.sequences))
    .option('--progress', 'show the bar even when stderr is not a terminal')
    .option('--no-progress', 'no bar')
    .action(async (name: string, o: ModelOptions) => {
      const body = {
        ...(o.path ? { path: o.path } : {}),
        ...(o.device ? { device: o.device } : {}),
        ...(o.contextSize !== undefined ? { context_size: o.contextSize } : {}),
        ...(o.sequences !== undefined ? { sequences: o.sequences } : {}),
      };
      // --progress / --no-progress decide; neither: a bar when stderr is a terminal.
      const showBar = !o.json && (o.progress ?? process.stderr.isTTY === true);
      const m = await loadWithProgress(api(), name, body, showBar);
      emit(o, m, () => `loaded ${m.name} on ${m.device} (${bytes(m.actual_bytes)})`);
    });

  json(models.command('unload <name>').description('unload a model once its in-flight requests finish')).action(
    async (name: string, o: OutputOptions) => {
      const r = await api().json<UnloadResponse>('POST', `/v1/models/${enc(name)}/unload`);
      emit(o, r, () => `unloaded ${r.name} (freed ${bytes(r.freed_bytes)})`);
    },
  );

  json(models.command('pin <name>').description('pin a model (never evicted, never expires); --off unpins'))
    .option('--off', 'unpin')
    .action(async (name: string, o: OutputOptions & { off?: boolean }) => {
      const m = await api().json<ModelResource>('POST', `/v1/models/${enc(name)}/pin`, { pinned: !o.off });
      emit(o, m, () => `${m.pinned ? 'pinned' : 'unpinned'} ${m.name}`);
    });

  json(
    models.command('alias <alias> <target>').description('point an alias at a model (a hot swap when it serves)'),
  ).action(async (alias: string, target: string, o: OutputOptions) => {
    const r = await api().json<AliasResponse>('PUT', `/v1/aliases/${enc(alias)}`, { target });
    emit(o, r, () => `${r.alias} → ${r.target}${r.previous ? ` (was ${r.previous})` : ''}`);
  });
  return models;
}
