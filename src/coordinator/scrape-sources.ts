/**
 * What the scrape-time gauges read (MetricsSources), for a Metrics made before the parts it reads: the router, the
 * Lifecycle's views, readiness and the actors' mailboxes are filled in here as each part starts. A scrape can only
 * arrive through a listener, and the listeners start last; until then each read answers "not there yet".
 */
import path from 'node:path';
import type { Config } from '../../schemas/config.js';
import type { RouterProtocol } from '../../schemas/messages.js';
import type { Readiness } from '../../schemas/rest.js';
import type { DeviceRef } from '../../actors/device/index.js';
import type { Lifecycle } from '../../actors/lifecycle/lifecycle.js';
import type { LocalActor } from '../kernel/local-actor.js';
import type { WorkStore } from '../store/work-store.js';
import type { MetricsSources } from '../telemetry/metrics.js';
import type { Mailboxes } from './main-actors.js';

/** A scrape's read of devices and models gives up after this (the gauges of that scrape are left out). */
const METRICS_READ_TIMEOUT_MS = 5000;

export class ScrapeSources {
  router: LocalActor<RouterProtocol> | null = null;
  models: Lifecycle | null = null;
  ready: (() => Readiness) | null = null;
  /** The router's inferences waiting for their model to load, per model (Router.waitingForLoadByModel). */
  waitingForLoad: (() => ReadonlyMap<string, number>) | null = null;
  /** Every mailbox the metrics report: the devices' from the start, each main-thread actor's as it starts. */
  readonly mailboxes: Mailboxes;

  constructor(
    private readonly config: Config,
    private readonly store: WorkStore,
    devices: Map<string, DeviceRef>,
  ) {
    this.mailboxes = new Map([...devices].map(([id, ref]) => [`device:${id}`, ref]));
  }

  sources(): MetricsSources {
    const { config, store } = this;
    return {
      devices: () => this.askRouter({ kind: 'devices' }),
      models: async () => {
        if (!this.models) throw new Error('not started');
        return this.models.page('', Infinity).models;
      },
      ...(config.jobs.enabled
        ? { activeJobs: () => store.activeJobs(), goalStates: () => store.listGoals().map((g) => g.state) }
        : {}),
      storeFile: path.join(config.dataDir, 'moc.lmdb'),
      mailboxes: () => [...this.mailboxes].map(([actor, a]) => ({ actor, depth: a.depth, refused: a.refused })),
      ready: () => this.ready?.().status === 'ready',
      waitingForLoad: () => this.waitingForLoad?.() ?? new Map(),
    };
  }

  private askRouter<T>(msg: Parameters<LocalActor<RouterProtocol>['ask']>[0]): Promise<T> {
    if (!this.router) return Promise.reject(new Error('not started'));
    return this.router.ask(msg, { timeoutMs: METRICS_READ_TIMEOUT_MS }) as Promise<T>;
  }
}
