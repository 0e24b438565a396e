// Structured logging to stderr (stdout may carry data, for the stdout sink and the `map` command).
import { createRequire } from 'node:module';
import { pino } from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
/** `json`: one JSON object per line (for collectors); `pretty`: coloured, human-readable lines for a terminal. */
export type LogFormat = 'json' | 'pretty';

/** Keys whose values are never logged, whatever object they appear in. */
const REDACT = ['*.token', '*.password', '*.secret', '*.authorization', '*.key', 'headers.authorization'];

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  readonly name?: string;
}

/**
 * JSON lines with the level as a word (`"level":"warn"`, what log collectors match on, not pino's numbers) and
 * an ISO time; or, `pretty`, pino-pretty's lines (loaded only then), coloured when stderr is a terminal.
 * Both write synchronously: a line logged before a crash or an exit is on stderr.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings: pino.LoggerOptions = {
    name: options.name ?? 'audit-forwarder',
    level: options.level ?? 'info',
    redact: { paths: REDACT, censor: '[redacted]' },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (options.format === 'pretty') {
    // pino-pretty is CommonJS and only needed here: required on demand, so JSON logging never loads it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as (o: Record<string, unknown>) => NodeJS.WritableStream;
    return pino(settings, pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'name', singleLine: true }) as never);
  }
  return pino(settings, pino.destination({ fd: 2, sync: true }));
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
