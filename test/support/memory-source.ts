// An in-memory source for engine tests: records with integer positions, chunked like a real reader.
import type { Position, Source, SourceReadOptions, SourceRecord } from '../../src/contracts/source.ts';
import type { AuditEvent, DecodeResult } from '../../src/model/audit-event.ts';

export function connectEvent(i: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  const sec = String(i % 60).padStart(2, '0');
  return {
    id: `ae${String(i).padStart(8, '0')}`,
    time: `2026-03-01T10:00:${sec}.${String(i % 1_000_000).padStart(6, '0')}Z`,
    origin: { kind: 'cofide-connect', product: 'cofide-connect', version: '1.4.2' },
    type: 'trust_zone_creation',
    action: 'creation',
    message: `event ${i}`,
    actor: { id: 'user-1', type: 'user' },
    outcome: 'success',
    links: [],
    raw: { i },
    ...overrides,
  };
}

export function memorySource(records: DecodeResult[], options: { chunk?: number } = {}): Source & { reads: Array<Position | undefined> } {
  const chunk = options.chunk ?? 3;
  const reads: Array<Position | undefined> = [];
  return {
    type: 'memory',
    reads,
    identity: () => ({ type: 'memory', n: records.length }),
    decodeRaw: () => ({ ok: false, error: { path: '', reason: 'memory records have no raw form' } }),
    async *read(from: Position | undefined, opts: SourceReadOptions) {
      reads.push(from);
      let i = typeof from === 'number' ? from : 0;
      while (i < records.length && !opts.signal.aborted) {
        const out: SourceRecord[] = [];
        for (; out.length < chunk && i < records.length; i++) {
          out.push({ position: i + 1, decoded: records[i]!, bytes: 100, locator: `mem:${i + 1}`, ...(records[i]!.ok ? {} : { rawText: `raw ${i}` }) });
        }
        yield out;
        await Promise.resolve();
      }
    },
    close: async () => undefined,
  };
}

export const ok = (event: AuditEvent): DecodeResult => ({ ok: true, event });
