/** `moc devices`, `moc health` (over REST) and `moc keys new` (local: a key line for auth.keysFile or MOC_API_KEYS). */
import { randomBytes } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import { Command, InvalidArgumentError } from 'commander';
import { oneOf, parser } from './options.js';
import type { DeviceList, Readiness } from '../../schemas/rest.js';
import type { FleetList } from '../../schemas/fleet.js';
import { type Api, CliError, EXIT } from './api.js';
import { bytes, emit, table, type OutputOptions } from './output.js';

export function devicesCommand(api: () => Api): Command {
  return new Command('devices')
    .description('each device: memory ledger, engine, models')
    .option('--json', 'print JSON (for scripts) instead of a table')
    .action(async (o: OutputOptions) => {
      const r = await api().json<Static<typeof DeviceList>>('GET', '/v1/devices');
      emit(o, r.devices, () =>
        table(
          ['id', 'kind', 'available', 'memory limit', 'reserved', 'free', 'engine', 'restarts', 'models'],
          r.devices.map((d) => [
            d.id,
            d.kind,
            d.available,
            bytes(d.memory.hard_limit),
            bytes(d.memory.reserved),
            bytes(d.memory.free),
            `${d.engine_state}${d.engine_pid ? ` (${d.engine_pid})` : ''}`,
            d.engine_restarts,
            d.models.map((m) => m.name).join(',') || '-',
          ]),
        ),
      );
    });
}

/** `moc fleet`: every host, alive or how long silent, each device's room and what is loaded where. */
export function fleetCommand(api: () => Api): Command {
  return new Command('fleet')
    .description('every host of the fleet: alive or silent, devices, free memory, loaded models and their queues')
    .option('--json', 'print JSON (for scripts) instead of a table')
    .action(async (o: OutputOptions) => {
      const r = await api().json<Static<typeof FleetList>>('GET', '/v1/fleet');
      emit(o, r.hosts, () =>
        table(
          ['host', 'alive', 'silent', 'device', 'free', 'memory limit', 'loaded (queued)', 'catalog'],
          r.hosts.flatMap((h) =>
            (h.devices.length ? h.devices : [undefined]).map((d, i) => [
              i === 0 ? h.host_id : '',
              i === 0 ? h.alive : '',
              i === 0 ? `${(h.silent_ms / 1000).toFixed(1)} s` : '',
              d?.id ?? '-',
              d ? bytes(d.memory.free) : '-',
              d ? bytes(d.memory.hard_limit) : '-',
              d?.models.map((m) => `${m.name}${m.queued ? ` (${m.queued})` : ''}`).join(',') || '-',
              i === 0 ? h.catalog.length : '',
            ]),
          ),
        ),
      );
    });
}

export function healthCommand(api: () => Api): Command {
  return new Command('health')
    .description("the server's readiness; exit 6 when it is not ready")
    .option('--json', 'print JSON')
    .action(async (o: OutputOptions) => {
      const a = api();
      let r: Readiness;
      try {
        r = await a.json<Readiness>('GET', '/health/ready');
      } catch (err) {
        // 503 carries the reasons: show them, exit as a retryable refusal.
        if (err instanceof CliError && err.exitCode === EXIT.RETRY) {
          process.exitCode = EXIT.RETRY;
          const body = await (await fetch(`${a.base}/health/ready`))
            .json()
            .then((b) => b as Partial<Readiness>)
            .catch(() => ({ status: 'not-ready', reasons: [err.message] }));
          return emit(o, body, () => `not ready: ${body.reasons?.join('; ')}`);
        }
        throw err;
      }
      emit(o, r, () => 'ready');
    });
}

const ROLES = ['admin', 'trainer', 'infer'] as const;
const name = parser('letters, digits, . _ - (at most 64)', (v) => {
  if (!/^[\w.-]{1,64}$/.test(v)) throw new InvalidArgumentError('It takes letters, digits, . _ - (at most 64).');
  return v;
});

export function keysCommand(): Command {
  const keys = new Command('keys').description('API key helpers');
  keys
    .command('new')
    .description('a new random key, as a line for auth.keysFile or an MOC_API_KEYS entry')
    .option('--role <role>', 'what the key may do', oneOf(ROLES), 'infer')
    .option('--name <name>', 'shown in logs and job owners', name)
    .option('--json', 'print JSON')
    .action((o: OutputOptions & { role: string; name?: string }) => {
      const key = randomBytes(24).toString('hex');
      const line = [o.role, ...(o.name ? [o.name] : []), key].join(':');
      emit(o, { role: o.role, ...(o.name ? { name: o.name } : {}), key, line }, () => line);
    });
  return keys;
}
