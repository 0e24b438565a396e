// Redrive: dead letters of one sink sent again through a lane — batched, retried, split — and marked resolved once delivered.
import type { Mapping, MappingOptions } from '../contracts/mapping.ts';
import type { Sink } from '../contracts/sink.ts';
import type { Position, Source, SourceReadOptions, SourceRecord } from '../contracts/source.ts';
import type { Logger } from '../logging.ts';
import type { AuditEvent, DecodeResult } from '../model/audit-event.ts';
import { isJsonObject } from '../model/json.ts';
import { Lane } from '../pipeline/lane.ts';
import { createSelection } from '../pipeline/selection.ts';
import type { BackoffPolicy } from './backoff.ts';
import type { DeadLetterStore, ListedDeadLetterEntry } from './dead-letter.ts';

export interface RedriveOptions {
  readonly route: string;
  readonly sinkName: string;
  readonly sink: Sink;
  readonly mapping: Mapping;
  readonly mappingOptions: MappingOptions;
  readonly batch: { readonly maxEvents: number; readonly maxBytes: number; readonly maxAgeMs: number };
  readonly maxInFlight: number;
  readonly retry: BackoffPolicy;
  /** The route's source decoding, for entries holding the raw record (a newer release may read it now). */
  readonly decodeRaw: (raw: string) => DecodeResult;
  readonly store: DeadLetterStore;
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export interface RedriveResult {
  /** Entries delivered, and recorded as resolved. */
  readonly redriven: number;
  /** Entries that stay, with why, in file order. */
  readonly kept: ReadonlyArray<{ readonly entry: ListedDeadLetterEntry; readonly why: string }>;
}

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Why a dead letter's `event` (which may have been edited by hand) is not a canonical AuditEvent, if it is not. */
export function notAnEvent(value: unknown): string | undefined {
  if (!isJsonObject(value)) return 'not a JSON object';
  const e = value;
  if (typeof e['id'] !== 'string' || e['id'] === '') return 'no id';
  if (typeof e['time'] !== 'string' || !CANONICAL_TIME.test(e['time'])) return 'no time in the canonical form';
  const origin = e['origin'];
  if (!isJsonObject(origin) || (origin['kind'] !== 'cofide-connect' && origin['kind'] !== 'ibm-cadf')) return 'no origin kind';
  for (const k of ['type', 'action', 'outcome'] as const) if (typeof e[k] !== 'string') return `no ${k}`;
  if (!isJsonObject(e['actor'])) return 'no actor';
  if (!Array.isArray(e['links'])) return 'no links';
  if (e['raw'] === undefined) return 'no raw record';
  return undefined;
}

/** The event an entry holds (checked), or the raw record decoded again, or why neither can be sent. */
function decodeEntry(entry: ListedDeadLetterEntry, decodeRaw: (raw: string) => DecodeResult): DecodeResult {
  if (entry.event !== undefined) {
    const problem = notAnEvent(entry.event);
    if (problem !== undefined) return { ok: false, error: { path: '', reason: `its event is not a canonical event (${problem})` } };
    return { ok: true, event: entry.event as unknown as AuditEvent };
  }
  if (entry.raw !== undefined) {
    const decoded = decodeRaw(entry.raw);
    return decoded.ok ? decoded : { ok: false, error: { ...decoded.error, reason: `still not decodable: ${decoded.error.path === '' ? '' : `${decoded.error.path}: `}${decoded.error.reason}` } };
  }
  return { ok: false, error: { path: '', reason: 'the entry holds neither an event nor a raw record' } };
}

/** The entries as a bounded source: position `i` is "the first i entries have ended". */
function entriesSource(entries: readonly ListedDeadLetterEntry[], decodeRaw: (raw: string) => DecodeResult): Source {
  return {
    type: 'dead-letters',
    identity: () => ({ type: 'dead-letters' }),
    decodeRaw,
    async *read(from: Position | undefined, options: SourceReadOptions): AsyncGenerator<readonly SourceRecord[]> {
      const CHUNK = 256;
      for (let i = typeof from === 'number' ? from : 0; i < entries.length && !options.signal.aborted; ) {
        const chunk: SourceRecord[] = [];
        for (; chunk.length < CHUNK && i < entries.length; i++) {
          const entry = entries[i]!;
          chunk.push({ position: i + 1, decoded: decodeEntry(entry, decodeRaw), locator: `line ${entry.line}`, bytes: 0 });
        }
        yield chunk;
      }
    },
    close: async () => undefined,
  };
}

/** The mapping, but a record it skips stays a dead letter (the operator asked for it to be sent). */
function keepingSkipped(mapping: Mapping): Mapping {
  return {
    ...mapping,
    map: (event, options) => {
      const r = mapping.map(event, options);
      return r.kind === 'skipped' ? { kind: 'invalid', reason: `skipped by the mapping: ${r.reason}`, path: '' } : r;
    },
  };
}

/**
 * Sends the dead letters `entries` (all of `options.sinkName`) again through one lane, as the route would: in
 * batches of the route's size, `maxInFlight` at once, retried with its policy, a refused batch split to the
 * refused record. Entries are recorded resolved as the lane commits past them (a crash resends at most what was
 * delivered since the last commit). What still fails stays, with why; the dead-letter file is not written.
 */
export async function redrive(entries: readonly ListedDeadLetterEntry[], options: RedriveOptions): Promise<RedriveResult> {
  const keptAt = new Map<number, string>();
  const keptIds = new Map<string, string>();
  let resolvedUpTo = 0;
  let marking: Promise<void> = Promise.resolve();
  let redriven = 0;
  const lane = new Lane({
    route: options.route,
    sinkName: options.sinkName,
    source: entriesSource(entries, options.decodeRaw),
    sink: options.sink,
    mapping: keepingSkipped(options.mapping),
    mappingOptions: options.mappingOptions,
    selection: createSelection('all', []),
    batch: options.batch,
    maxInFlight: options.maxInFlight,
    retry: options.retry,
    deadLetters: {
      append: (e) => {
        const why = e.stage === 'decode' ? e.reason : e.stage === 'map' ? `still not mappable: ${e.path ? `${e.path}: ` : ''}${e.reason}` : `not delivered: ${e.reason}`;
        if (typeof e.position === 'number') keptAt.set(e.position, why);
        else if (e.eventId !== undefined) keptIds.set(e.eventId, why);
      },
    },
    commit: (position) => {
      const upTo = position as number;
      const done = entries.slice(resolvedUpTo, upTo).filter((entry, k) => !keptAt.has(resolvedUpTo + k + 1) && !(entry.eventId !== undefined && keptIds.has(entry.eventId)));
      resolvedUpTo = upTo;
      redriven += done.length;
      // In commit order, each recorded before the next: a crash leaves at most the last group to send again.
      marking = marking.then(() => options.store.markResolved(done, 'redriven'));
    },
    from: undefined,
    logDeadLetters: false,
    logger: options.logger,
  });
  const stop = () => lane.abort();
  options.signal.addEventListener('abort', stop, { once: true });
  let result;
  try {
    result = await lane.run();
  } finally {
    options.signal.removeEventListener('abort', stop);
  }
  await marking;
  const kept = entries.flatMap((entry, k) => {
    const why =
      k >= resolvedUpTo
        ? `not delivered: ${result.error ?? 'interrupted'}`
        : (keptAt.get(k + 1) ?? (entry.eventId !== undefined ? keptIds.get(entry.eventId) : undefined));
    return why === undefined ? [] : [{ entry, why }];
  });
  return { redriven, kept };
}
