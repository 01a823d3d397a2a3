/**
 * The models a server starts with: the configured ones (or the generated demo model when none is configured) are
 * registered, then every catalog entry marked preload is loaded. Through the router, as a client's requests would be.
 */
import path from 'node:path';
import type { Config } from '../../schemas/config.js';
import type { RouterProtocol } from '../../schemas/messages.js';
import type { Lifecycle } from '../../actors/lifecycle/lifecycle.js';
import { toMocError } from '../errors.js';
import type { LocalActor } from '../kernel/local-actor.js';
import type { Logger } from '../log.js';
import { ensureDemoModel } from '../model/demo-model.js';

export const DEMO_MODEL_NAME = 'moc-demo';

/**
 * A model that fails is logged and the server starts anyway: it shows as failed or registered, and loads once the
 * cause is fixed.
 */
export async function preload(
  config: Config,
  lifecycle: Lifecycle,
  router: LocalActor<RouterProtocol>,
  log: Logger,
): Promise<void> {
  let models = config.models;
  if (models.length === 0) {
    const file = await ensureDemoModel(config.modelsRoot);
    log.log('info', 'model.demo_ready', { path: file });
    models = [
      {
        name: DEMO_MODEL_NAME,
        path: path.relative(config.modelsRoot, file),
        contextSize: 512,
        sequences: 8,
        preload: true,
        pinned: false,
        keepAliveMs: -1,
      },
    ];
  }
  for (const m of models) {
    try {
      await router.ask(
        {
          kind: 'register',
          request: {
            name: m.name,
            path: m.path,
            context_size: m.contextSize,
            sequences: m.sequences,
            pinned: m.pinned,
            keep_alive_ms: m.keepAliveMs,
            preload: m.preload,
            ...(m.device ? { device: m.device } : {}),
          },
        },
        { timeoutMs: config.limits.loadTimeoutMs },
      );
    } catch (err) {
      log.log('error', 'model.preload_failed', { model: m.name, error: toMocError(err).message });
    }
  }
  await Promise.all(
    lifecycle
      .catalogEntries()
      .filter((e) => e.preload)
      .map(async (e) => {
        try {
          const info = await router.ask(
            { kind: 'load', request: { name: e.name } },
            { timeoutMs: config.limits.loadTimeoutMs },
          );
          log.log('info', 'model.preloaded', { model: info.name, device: info.device, bytes: info.reservedBytes });
        } catch (err) {
          log.log('error', 'model.preload_failed', { model: e.name, error: toMocError(err).message });
        }
      }),
  );
}
