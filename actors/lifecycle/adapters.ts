/**
 * LoRA adapters in the catalog (docs/models.md, Adapters). An adapter is a catalog entry like a model, with `base`
 * (the model it applies to) and its GGUF in `path`: it is registered, listed, loaded, aliased and kept alive like a
 * model, and loads as a context of its own on its base's weights (actors/device/engine-core.ts loadAdapter). This
 * file holds what is particular to adapters in the catalog: which register requests are one, and their rules.
 */
import { errors } from '../../src/errors.js';
import type { CatalogEntry } from '../../schemas/catalog.js';
import type { AdapterOf, RegisterRequest } from '../../schemas/messages.js';

/** The scale an adapter is applied at when its registration gives none: as trained. */
export const DEFAULT_ADAPTER_SCALE = 1;

/** What the device and engine need to know of an entry that is an adapter (nothing for a model). */
export function adapterOf(e: CatalogEntry | undefined): { adapter?: AdapterOf } {
  return e?.base ? { adapter: { base: e.base, scale: e.scale ?? DEFAULT_ADAPTER_SCALE } } : {};
}

/** The file a register request names: a model's `path` or an adapter's `adapter` (checkAdapterFields: one of them). */
export function registeredFile(r: RegisterRequest): string {
  return (r.path ?? r.adapter)!;
}

/**
 * A register request is a model (`path`) or an adapter (`adapter` + `base`, optionally `scale`), never both. An
 * adapter's base is a registered model (an alias names its target, resolved now), not itself an adapter; a model that
 * is the base of adapters cannot become one. Returns the base's name as the catalog keeps it.
 */
export function checkAdapterFields(
  r: RegisterRequest,
  catalog: ReadonlyMap<string, CatalogEntry>,
  resolve: (name: string) => string,
): string | undefined {
  if (r.path !== undefined && r.adapter !== undefined)
    throw errors.invalidArgument('adapter', 'give path (a model) or adapter and base (a LoRA adapter), not both');
  if (r.path === undefined && r.adapter === undefined)
    throw errors.invalidArgument(
      'path',
      'is required: the GGUF file relative to the models root (or, for a LoRA adapter, adapter and base)',
    );
  if (r.adapter === undefined) {
    if (r.base !== undefined || r.scale !== undefined)
      throw errors.invalidArgument(
        r.base !== undefined ? 'base' : 'scale',
        'applies to a LoRA adapter only: give adapter (its GGUF) with base, instead of path',
      );
    return undefined;
  }
  if (r.base === undefined)
    throw errors.invalidArgument('base', 'is required with adapter: the registered model the LoRA adapter applies to');
  const base = resolve(r.base);
  const entry = catalog.get(base);
  if (!entry) throw errors.modelNotRegistered(r.base, 'register the base model first, then its adapters');
  if (base === r.name) throw errors.invalidArgument('base', 'names the adapter itself; name the model it applies to');
  if (entry.base)
    throw errors.invalidArgument(
      'base',
      `'${r.base}' is itself a LoRA adapter (of '${entry.base}'); name its base model instead`,
    );
  const dependants = [...catalog.values()].filter((e) => e.base === r.name).map((e) => e.name);
  if (dependants.length > 0)
    throw errors.invalidArgument(
      'name',
      `'${r.name}' is the base of the adapters ${dependants.join(', ')}; register the adapter under a new name`,
    );
  return base;
}
