// The ledger of one running route: one accountant per lane, one hash-chained file for the route, and the order of
// writes that keeps it crash-safe (an entry is on disk before the checkpoint that no longer holds its window).
import { hostname } from 'node:os';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { HeartbeatSummary } from '../contracts/mapping.ts';
import type { Logger } from '../logging.ts';
import { FORWARDER_VERSION } from '../version.ts';
import { LaneAccountant, ledgerStateProblem, type LaneLedgerState } from './accountant.ts';
import { loadSigningKey, type LedgerEntry, type LedgerEntryInput } from './entry.ts';
import { openLedgerWriter, type LedgerWriter } from './ledger-file.ts';

export interface LedgerSettings {
  readonly windowMs: number;
  readonly latenessMs: number;
  readonly heartbeat: boolean;
  readonly signingKeyFile?: string;
}

/** Where the ledger files of every route live: `<checkpoint directory>/ledger`. */
export function ledgerDirectory(checkpointDirectory: string): string {
  return path.join(checkpointDirectory, 'ledger');
}

export interface RouteLedger {
  /** The accountant of one lane, resuming from the state its checkpoint saved (if any). */
  accountant(sink: string, saved: unknown): LaneAccountant;
  /** Queues the entries of windows a lane closed; `flush` writes them. */
  closed(entries: readonly LedgerEntryInput[]): void;
  /**
   * Writes every queued entry, in order, durably: called before each checkpoint save. Re-derived entries that are
   * already on disk (a crash after the entry, before the checkpoint) are not written twice. Throws `FWD_LEDGER_IO`.
   */
  flush(): Promise<void>;
  /** Called with each entry written (not with one already on disk): heartbeats. */
  onWritten(listener: (entry: LedgerEntry) => void): void;
  close(): Promise<void>;
}

/** Opens the route's ledger file (repairing a torn last line; refusing an altered one with `FWD_LEDGER_CORRUPT`). */
export async function openRouteLedger(dir: string, route: string, settings: LedgerSettings, logger: Logger): Promise<RouteLedger> {
  const signingKey: KeyObject | undefined = settings.signingKeyFile === undefined ? undefined : loadSigningKey(settings.signingKeyFile);
  const writer: LedgerWriter = await openLedgerWriter(dir, route, signingKey !== undefined ? { signingKey } : {});
  let queue: LedgerEntryInput[] = [];
  const listeners: Array<(entry: LedgerEntry) => void> = [];
  return {
    accountant(sink, saved) {
      let restored: LaneLedgerState | undefined;
      if (saved !== undefined) {
        const problem = ledgerStateProblem(saved);
        if (problem === undefined) restored = saved as LaneLedgerState;
        else logger.warn({ sink, problem }, 'the checkpoint\'s ledger state is not usable: its open windows start over');
      }
      return new LaneAccountant({
        route,
        sink,
        windowSeconds: settings.windowMs / 1000,
        latenessSeconds: settings.latenessMs / 1000,
        restored,
      });
    },
    closed(entries) {
      queue.push(...entries);
    },
    async flush() {
      if (queue.length === 0) return;
      const batch = queue;
      queue = [];
      let results;
      try {
        results = await writer.appendAll(batch);
      } catch (error) {
        // Nothing of the group was kept: it goes first next time (the checkpoint save fails: nothing is lost).
        queue = [...batch, ...queue];
        throw error;
      }
      let again = 0;
      for (const { entry, written } of results) {
        if (!written) {
          again++;
          continue;
        }
        for (const l of listeners) {
          try {
            l(entry);
          } catch (error) {
            logger.warn({ err: (error as Error).message }, 'a ledger listener failed');
          }
        }
      }
      if (again > 0) logger.info({ entries: again }, 'ledger entries already written before a restart: not written again');
    },
    onWritten(listener) {
      listeners.push(listener);
    },
    close: () => writer.close(),
  };
}

/** The heartbeat of one written entry. */
export function heartbeatOf(entry: LedgerEntry): HeartbeatSummary {
  return {
    route: entry.route,
    sink: entry.sink,
    window: entry.window,
    part: entry.part,
    late: entry.late,
    counts: entry.counts,
    digest: entry.digest,
    seq: entry.seq,
    hash: entry.hash,
    closedAt: entry.closedAt,
    forwarder: { version: FORWARDER_VERSION, host: hostname() },
  };
}
