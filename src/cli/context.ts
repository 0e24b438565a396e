// What every config-driven command needs: the validated configuration and the engine's dependencies.
import { connectors } from '../../connectors/index.ts';
import { mappingNames, mappingOptionKeys, mappings } from '../../mappings/index.ts';
import { createFileCheckpointStore } from '../checkpoint/file-store.ts';
import { loadConfig } from '../config/loader.ts';
import type { ForwarderConfig } from '../config/schema.ts';
import { loadConnectors } from '../contracts/connector.ts';
import { ForwarderError } from '../contracts/errors.ts';
import { createLogger, type Logger, type LogFormat, type LogLevel } from '../logging.ts';
import { parseTimeArgument } from '../model/time.ts';
import type { RunnerDeps } from '../pipeline/runner.ts';

export interface CommandContext {
  readonly config: ForwarderConfig;
  readonly deps: RunnerDeps;
  readonly logger: Logger;
}

/** `--log-level` and `--log-format` of the command line: they win over the configuration's `logging`. */
const cliLogging: { level?: LogLevel; format?: LogFormat } = {};

export function setCliLogging(options: { logLevel?: LogLevel; logFormat?: LogFormat }): void {
  if (options.logLevel !== undefined) cliLogging.level = options.logLevel;
  if (options.logFormat !== undefined) cliLogging.format = options.logFormat;
}

/** True when the log level was given on the command line (a reload then keeps it). */
export function logLevelFromCli(): boolean {
  return cliLogging.level !== undefined;
}

/**
 * The validated configuration, the engine's dependencies and the logger. `logLevel` is the command's own default
 * (`check` logs nothing unless asked); `--log-level` wins over it, and it over the configuration.
 */
export async function loadContext(configPath: string | undefined, logLevel?: LogLevel): Promise<CommandContext> {
  if (configPath === undefined) {
    throw new ForwarderError('FWD_CLI_USAGE', 'missing -c/--config <file>', { stage: 'cli', disposition: 'fatal' });
  }
  const config = await readConfig(configPath);
  const logger = createLogger({ level: cliLogging.level ?? logLevel ?? config.logging.level, format: cliLogging.format ?? config.logging.format });
  const store = createFileCheckpointStore(config.checkpoints.directory);
  return { config, logger, deps: { registry: connectors, mappings, store, logger } };
}

/** Reads and validates the configuration file (again, for a reload), and loads the connectors it names. */
export async function readConfig(configPath: string): Promise<ForwarderConfig> {
  const config = await loadConfig(configPath, { registry: connectors, mappingNames, mappingOptionKeys });
  await loadConnectors(connectors, config);
  return config;
}

/** The route named on the command line, or a usage error listing the routes. */
export function requireRoute(config: ForwarderConfig, route: string | undefined): string {
  const names = Object.keys(config.routes);
  if (route === undefined || config.routes[route] === undefined) {
    const what = route === undefined ? 'missing --route <name>' : `no route named "${route}"`;
    throw new ForwarderError('FWD_CLI_USAGE', `${what}; routes in ${config.configPath}: ${names.join(', ') || '(none)'}`, {
      stage: 'cli',
      disposition: 'fatal',
    });
  }
  return route;
}

/** A time given on the command line (`--from`, `--at`: RFC 3339 with a zone, or a date), canonical; a usage error otherwise. */
export function timeArgument(flag: string, value: string): string {
  const t = parseTimeArgument(value);
  if (!t.ok) throw new ForwarderError('FWD_CLI_USAGE', `${flag} ${JSON.stringify(value)}: ${t.reason}`, { stage: 'cli', disposition: 'fatal' });
  return t.time;
}
