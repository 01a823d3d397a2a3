/**
 * The one store: LMDB (lmdb-js) in the data directory. A write resolves only after its transaction committed, so a
 * client is acknowledged only for what survives kill -9. Each change and its event-log record commit together.
 * lmdb-js batches concurrent transactions into one commit, which is what makes awaiting each write affordable.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { CatalogEntry, StoreEvent } from '../../schemas/catalog.js';

export class Store {
  private constructor(
    private readonly root: RootDatabase,
    private readonly models: Database<CatalogEntry, string>,
    private readonly aliases: Database<string, string>,
    private readonly events: Database<StoreEvent, number>,
  ) {}

  static open(dataDir: string): Store {
    mkdirSync(dataDir, { recursive: true });
    const root = open({ path: path.join(dataDir, 'moc.lmdb'), maxDbs: 8 });
    return new Store(
      root,
      root.openDB<CatalogEntry, string>({ name: 'models' }),
      root.openDB<string, string>({ name: 'aliases' }),
      root.openDB<StoreEvent, number>({ name: 'events' }),
    );
  }

  listModels(): CatalogEntry[] { return [...this.models.getRange()].map((e) => e.value); }
  getModel(name: string): CatalogEntry | undefined { return this.models.get(name); }
  listAliases(): [string, string][] { return [...this.aliases.getRange()].map((e) => [e.key, e.value]); }

  /**
   * Upsert a catalog entry. Resolves false, with nothing written, when the name is an alias: models and aliases
   * share one namespace, and only a check inside the write transaction holds against a concurrent setAlias.
   */
  putModel(entry: CatalogEntry): Promise<boolean> {
    return this.write(() => {
      if (this.aliases.get(entry.name) !== undefined) return null;
      this.models.put(entry.name, entry);
      return { type: 'model.registered', at: Date.now(), entry };
    });
  }

  /**
   * Point an alias at a model. Resolves false, with nothing written, when the alias is a model name or the target
   * is not a model (checked inside the write transaction, as putModel does).
   */
  setAlias(alias: string, target: string): Promise<boolean> {
    return this.write(() => {
      if (this.models.get(alias) !== undefined || this.models.get(target) === undefined) return null;
      const previous = this.aliases.get(alias) ?? null;
      this.aliases.put(alias, target);
      return { type: 'alias.set', at: Date.now(), alias, target, previous };
    });
  }

  /** The event log in order, for audits and rebuilds. */
  readEvents(fromSeq = 0): { seq: number; event: StoreEvent }[] {
    return [...this.events.getRange({ start: fromSeq })].map((e) => ({ seq: e.key, event: e.value }));
  }

  /**
   * Apply a change and append its event in one transaction; resolves once committed to disk: true, or false when
   * the change refused itself (returned null) and nothing was written.
   */
  private write(change: () => StoreEvent | null): Promise<boolean> {
    return this.root.transaction(() => {
      const event = change();
      if (!event) return false;
      // Sequence read inside the write transaction: LMDB serializes writers, also across processes.
      const last = [...this.events.getKeys({ reverse: true, limit: 1 })][0] ?? 0;
      this.events.put(last + 1, event);
      return true;
    });
  }

  async close(): Promise<void> { await this.root.close(); }
}
