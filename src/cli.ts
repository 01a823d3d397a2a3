#!/usr/bin/env node
/**
 * The `moc` command (commander: every command and option has --help).
 *
 * Server side:
 *   `moc serve [--config moc.yaml]` (or MOC_CONFIG), also with no command at all. SIGTERM/SIGINT: graceful stop
 *   within shutdown.graceMs, exit 0; a second signal stops at once. Restart intensity exceeded at the root: exit 1, so
 *   systemd/Kubernetes restarts us.
 *   `moc migrate <data-dir> <postgres-url>`: a host's work into a fleet's database (docs/fleet.md), checksums compared.
 *   `moc replay <data-dir> <out-dir>`: rebuild the store from its event log into an empty directory and compare
 *   checksums (one JSON line; exit 0 when equal, 1 when not). Run it on a stopped server's data directory.
 *   `moc backup <data-dir> <out-dir>`: a consistent copy of a data directory, taken while the server serves (one JSON
 *   line; exit 0 when done). src/store/backup.ts.
 *
 * Client side, against a running server over REST (MOC_URL, MOC_API_KEY; src/cli/): `moc models …`, `moc infer`,
 * `moc devices`, `moc jobs …`, `moc goals …`, `moc health`, and `moc keys new`. Human tables by default, --json for
 * scripts, exit codes in src/cli/api.ts (docs/cli.md).
 */
import { Command, CommanderError } from 'commander';
import { Api, CliError, EXIT } from './cli/api.js';
import type { Coordinator as CoordinatorInstance } from './coordinator.js';
import { modelsCommand } from './cli/models.js';
import { inferCommand } from './cli/infer.js';
import { goalsCommand, jobsCommand } from './cli/jobs.js';
import { devicesCommand, fleetCommand, healthCommand, keysCommand } from './cli/misc.js';
import { checkOptions } from './cli/options.js';

async function serve(file: string | undefined): Promise<void> {
  // Imported here, not at the top: the client commands then start without loading the server (engine, gRPC, LMDB, uWS).
  const { loadConfig, ConfigError } = await import('./config.js');
  const { Coordinator } = await import('./coordinator.js');
  const { createLogger, isLevel, logLevel } = await import('./log.js');
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  // MOC_LOG_LEVEL, when it names a level, wins over log.level (docs/logging.md).
  const log = createLogger(logLevel(config.log.level), { sensitive: config.log.sensitive });
  const envLevel = process.env.MOC_LOG_LEVEL;
  if (envLevel && !isLevel(envLevel)) {
    log.log('warn', 'config.invalid', {
      env: 'MOC_LOG_LEVEL',
      got: envLevel,
      hint: 'use debug, info, warn or error; ignored',
    });
  }
  let coordinator: CoordinatorInstance | undefined;
  // The parent watchdog: a server started by a Node process with an IPC channel (fork(), or spawn() with 'ipc': tests,
  // perf scripts, a Node supervisor) stops when that channel closes, i.e. when the parent exited — even by SIGKILL,
  // which runs no cleanup of the parent's — instead of living on as an orphan. The channel's end is the parent's
  // death as the kernel reports it; a timer could not tell a dead parent from a slow one. Unref'd: the channel alone
  // does not keep the server up. No channel (systemd, a shell, Kubernetes): no watchdog.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => {
      if (coordinator) stop('parent.exited');
      else process.exit(1); // still starting: nothing acknowledged yet, engines follow by their own channel
    });
  }
  coordinator = await Coordinator.start(config, {
    log,
    onEscalate: () => {
      void coordinator?.destroy().finally(() => process.exit(1));
      if (!coordinator) process.exit(1);
    },
  });
  let signals = 0;
  const stop = (sig: string) => {
    if (++signals > 1) {
      void coordinator!.destroy().finally(() => process.exit(1));
      return;
    }
    log.log('info', 'server.stopping', { signal: sig });
    coordinator!.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function program(): Command {
  const api = () => new Api();
  const p = new Command('moc')
    .description('MOC, the ModelOps Coordinator: serve, and operate a running server (MOC_URL, MOC_API_KEY)')
    .exitOverride();
  p.command('serve')
    .description('serve: gRPC, REST and ZMQ with the configured devices and models')
    .option('--config <file.yaml>', 'the config file (default: MOC_CONFIG, else zero config with the demo model)')
    .action((o: { config?: string }) => serve(o.config ?? (process.env.MOC_CONFIG || undefined)));
  p.command('replay <data-dir> <out-dir>')
    .description("rebuild a stopped server's store from its event log and compare checksums")
    .action(async (data: string, out: string) => {
      const { replay } = await import('./store/replay.js');
      const r = await replay(data, out);
      console.log(JSON.stringify(r));
      process.exit(r.equal ? 0 : 1);
    });
  p.command('migrate <data-dir> <postgres-url>')
    .description(
      "copy a stopped host's jobs, goals and feedback (its event log replayed) into an empty PostgreSQL, and compare checksums",
    )
    .action(async (data: string, url: string) => {
      const { migrate } = await import('./store/postgres/migrate.js');
      const r = await migrate(data, url);
      console.log(JSON.stringify(r));
      process.exit(r.equal ? 0 : 1);
    });
  p.command('backup <data-dir> <out-dir>')
    .description('a consistent copy of a data directory, while the server serves')
    .action(async (data: string, out: string) => {
      const { backup } = await import('./store/backup.js');
      console.log(JSON.stringify(await backup(data, out)));
      process.exit(0);
    });
  p.addCommand(modelsCommand(api));
  p.addCommand(inferCommand(api));
  p.addCommand(devicesCommand(api));
  p.addCommand(fleetCommand(api));
  p.addCommand(jobsCommand(api));
  p.addCommand(goalsCommand(api));
  p.addCommand(healthCommand(api));
  p.addCommand(keysCommand());
  // Every command's options checked one way, usage errors thrown (exitOverride) with exit code 2 (src/cli/options.ts).
  checkOptions(p);
  return p;
}

// No command at all is `moc serve` (as before commander); an unknown one is an error, not a serve argument.
const argv = process.argv.length > 2 ? process.argv : [...process.argv, 'serve'];
program()
  .parseAsync(argv)
  .catch((err) => {
    if (err instanceof CommanderError) {
      // --help and --version end here too (exit 0); commander printed the message already.
      process.exit(err.exitCode === 0 ? 0 : EXIT.USAGE);
    }
    if (err instanceof CliError) {
      console.error(`moc: ${err.message}`);
      process.exit(err.exitCode);
    }
    console.error(`moc: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
