// Dead letters made visible while running: each one logged at warn, rate-limited so that a flood cannot fill a disk.
import type { DeadLetterCode } from '../contracts/errors.ts';
import type { Logger } from '../logging.ts';

/** What is logged of one dead letter: where it came from and why, never the record's content. */
export interface DeadLetterNotice {
  readonly stage: 'decode' | 'map' | 'sink';
  readonly code: DeadLetterCode;
  readonly reason: string;
  readonly path?: string;
  readonly locator?: string;
  readonly eventId?: string;
}

export interface DeadLetterLogOptions {
  /** Dead letters logged one by one per interval; the rest are counted and summed up at the interval's end. */
  readonly burst?: number;
  readonly intervalMs?: number;
}

export interface DeadLetterLog {
  report(notice: DeadLetterNotice): void;
  /** Logs the summary of what was not logged one by one, and stops the timer. Idempotent. */
  close(): void;
}

const MAX_REASON = 500;

/**
 * Logs dead letters on `logger` (which carries the route and sink): the first `burst` of each interval one by
 * one, then a single "N more" line per interval with the count per code.
 */
export function createDeadLetterLog(logger: Logger, options: DeadLetterLogOptions = {}): DeadLetterLog {
  const burst = options.burst ?? 10;
  const intervalMs = options.intervalMs ?? 60_000;
  let logged = 0;
  let suppressed = new Map<DeadLetterCode, number>();
  let timer: NodeJS.Timeout | undefined;

  const summarise = () => {
    timer = undefined;
    logged = 0;
    if (suppressed.size === 0) return;
    const byCode = Object.fromEntries(suppressed);
    const more = [...suppressed.values()].reduce((a, b) => a + b, 0);
    suppressed = new Map();
    logger.warn({ more, byCode, intervalMs }, `${more} more dead letters in this interval, not logged one by one (see the dead-letter file)`);
  };

  return {
    report(n) {
      if (timer === undefined) {
        timer = setTimeout(summarise, intervalMs);
        timer.unref?.();
      }
      if (logged < burst) {
        logged++;
        const reason = n.reason.length > MAX_REASON ? `${n.reason.slice(0, MAX_REASON)}…` : n.reason;
        logger.warn(
          {
            stage: n.stage,
            code: n.code,
            ...(n.path !== undefined && n.path !== '' ? { path: n.path } : {}),
            ...(n.locator !== undefined ? { locator: n.locator } : {}),
            ...(n.eventId !== undefined ? { eventId: n.eventId } : {}),
            reason,
          },
          'record dead-lettered',
        );
        return;
      }
      suppressed.set(n.code, (suppressed.get(n.code) ?? 0) + 1);
    },
    close() {
      if (timer !== undefined) clearTimeout(timer);
      summarise();
    },
  };
}
