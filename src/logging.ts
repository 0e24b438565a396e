// Structured logging to stderr (stdout may carry data, for the stdout sink and the `map` command).
import { pino } from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
/** `json`: one JSON object per line (for collectors); `pretty`: coloured, human-readable lines for a terminal. */
export type LogFormat = 'json' | 'pretty';

/** Keys whose values are never logged, whatever object they appear in. */
const REDACT = ['*.token', '*.password', '*.secret', '*.authorization', '*.key', 'headers.authorization'];

export function createLogger(options: { level?: LogLevel; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'audit-forwarder',
      level: options.level ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
