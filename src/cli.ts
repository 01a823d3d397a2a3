#!/usr/bin/env node
/**
 * `moc serve [--config moc.yaml]` (or MOC_CONFIG). SIGTERM/SIGINT: graceful stop within shutdown.graceMs, exit 0;
 * a second signal stops at once. Restart intensity exceeded at the root: exit 1, so systemd/Kubernetes restarts us.
 *
 * `moc replay <data-dir> <out-dir>`: rebuild the store from its event log into an empty directory and compare
 * checksums (one JSON line; exit 0 when equal, 1 when not). Run it on a stopped server's data directory.
 *
 * `moc backup <data-dir> <out-dir>`: a consistent copy of a data directory, taken while the server serves (one JSON
 * line; exit 0 when done). src/store/backup.ts.
 */
import { loadConfig, ConfigError } from './config.js';
import { Coordinator } from './coordinator.js';
import { createLogger, isLevel, logLevel } from './log.js';
import { replay } from './store/replay.js';
import { backup } from './store/backup.js';

const USAGE = 'usage: moc serve [--config <file.yaml>]   (or set MOC_CONFIG)\n       moc replay <data-dir> <out-dir>\n       moc backup <data-dir> <out-dir>';

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  if (command === '--help' || command === '-h') return void console.log(USAGE);
  if (command === 'replay') {
    if (rest.length !== 2) { console.error(USAGE); process.exit(2); }
    const r = await replay(rest[0]!, rest[1]!);
    console.log(JSON.stringify(r));
    process.exit(r.equal ? 0 : 1);
  }
  if (command === 'backup') {
    if (rest.length !== 2) { console.error(USAGE); process.exit(2); }
    console.log(JSON.stringify(await backup(rest[0]!, rest[1]!)));
    process.exit(0);
  }
  if (command !== 'serve') { console.error(`unknown command '${command}'\n${USAGE}`); process.exit(2); }
  let file = process.env.MOC_CONFIG || undefined;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--config') file = rest[++i];
    else { console.error(`unknown option '${rest[i]}'\n${USAGE}`); process.exit(2); }
  }
  let config;
  try {
    config = loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) { console.error(err.message); process.exit(2); }
    throw err;
  }
  // MOC_LOG_LEVEL, when it names a level, wins over log.level (docs/logging.md).
  const log = createLogger(logLevel(config.log.level), { sensitive: config.log.sensitive });
  const envLevel = process.env.MOC_LOG_LEVEL;
  if (envLevel && !isLevel(envLevel)) {
    log.log('warn', 'config.invalid', { env: 'MOC_LOG_LEVEL', got: envLevel, hint: 'use debug, info, warn or error; ignored' });
  }
  let coordinator: Coordinator | undefined;
  coordinator = await Coordinator.start(config, {
    log,
    onEscalate: () => { void coordinator?.destroy().finally(() => process.exit(1)); if (!coordinator) process.exit(1); },
  });
  let signals = 0;
  const stop = (sig: string) => {
    if (++signals > 1) { void coordinator!.destroy().finally(() => process.exit(1)); return; }
    log.log('info', 'server.stopping', { signal: sig });
    coordinator!.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`moc: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
