/**
 * A fleet's trained outputs on a shared models root. A fine-tune's output is registered by the host that ran it; a
 * host that sees that job succeed (another host's change, through the shared work store) and finds the same file
 * under its own models root registers it too — as a LoRA adapter of the same base when the file says it is one
 * (general.type adapter), else as a model — and, when the fine-tune promoted it, points the same alias at it. Hosts
 * without the file (separate models roots) leave it alone: they cannot load it. docs/fleet.md, "Trained outputs".
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../schemas/config.js';
import type { Job } from '../../schemas/jobs.js';
import type { ModelsPort } from '../../actors/jobs/models-port.js';
import { parseGgufHeader } from '../model/gguf-header.js';
import type { Logger } from '../log.js';

export function followSharedOutputs(
  config: Config,
  jobs: { watch(listener: (j: Job) => void): () => void },
  models: Pick<ModelsPort, 'resolve' | 'register' | 'setAlias'>,
  log: Logger,
): () => void {
  const done = new Set<string>();
  return jobs.watch((job) => {
    if (job.type !== 'fine-tune' || job.state !== 'succeeded' || done.has(job.id)) return;
    const name = job.outputs.models[0];
    const file = job.outputs.files[0];
    if (!name || !file) return;
    done.add(job.id);
    const full = path.join(config.modelsRoot, file);
    if (models.resolve(name) !== undefined || !existsSync(full)) return;
    const spec = job.spec as { base_model?: string; promote_to?: string };
    let adapter = false;
    try {
      adapter = parseGgufHeader(full).type === 'adapter';
    } catch {
      return; // not a file this host can read: registering it would fail the same way
    }
    const request = adapter && spec.base_model ? { name, base: spec.base_model, adapter: file } : { name, path: file };
    void models
      .register(request)
      .then(async () => {
        log.log('info', 'fleet.output_registered', { job: job.id, model: name, file });
        if (spec.promote_to && job.outputs.metrics.promoted === 1) {
          await models.setAlias(spec.promote_to, name);
          log.log('info', 'fleet.output_promoted', { job: job.id, model: name, alias: spec.promote_to });
        }
      })
      .catch((err: Error) =>
        log.log('warn', 'fleet.output_not_registered', { job: job.id, model: name, file, error: err.message }),
      );
  });
}
