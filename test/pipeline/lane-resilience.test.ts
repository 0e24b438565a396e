// The lane keeps going: a record a mapping throws on, a flood of dead letters (logged, rate-limited), a source that fails and recovers.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { canonicalMapping } from '../../mappings/canonical/index.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { Mapping } from '../../src/contracts/mapping.ts';
import type { Position, Source, SourceReadOptions, SourceRecord } from '../../src/contracts/source.ts';
import type { Logger } from '../../src/logging.ts';
import type { DecodeResult } from '../../src/model/audit-event.ts';
import { laneSetup } from '../support/lane-setup.ts';
import { connectEvent, ok } from '../support/memory-source.ts';
import { scriptedSink } from '../support/scripted-sink.ts';

/** A lane reading `source`, batches of 4, 2 in flight; commits are the positions alone. */
function setup(source: Source, overrides: Parameters<typeof laneSetup>[1] = {}) {
  return laneSetup([], { source, batch: { maxEvents: 4, maxBytes: 1e6, maxAgeMs: 10_000 }, maxInFlight: 2, retry: { initialDelayMs: 1, maxDelayMs: 2 }, ...overrides });
}

/**
 * A source of `n` events in chunks of 3, whose reads fail as `failures` says: `failures(from, read)` is called
 * before each chunk with the position the read started from and the number of chunks this read has yielded;
 * what it returns is thrown.
 */
function flakySource(n: number, failures: (from: number, yielded: number) => unknown): Source & { reads: number[] } {
  const reads: number[] = [];
  return {
    type: 'flaky',
    reads,
    identity: () => ({ type: 'flaky' }),
    decodeRaw: () => ({ ok: false, error: { path: '', reason: 'none' } }),
    async *read(from: Position | undefined, opts: SourceReadOptions) {
      const start = typeof from === 'number' ? from : 0;
      reads.push(start);
      let yielded = 0;
      for (let i = start; i < n && !opts.signal.aborted; ) {
        const failure = failures(start, yielded);
        if (failure !== undefined) throw failure;
        const chunk: SourceRecord[] = [];
        for (; chunk.length < 3 && i < n; i++) chunk.push({ position: i + 1, decoded: ok(connectEvent(i + 1)), bytes: 10 });
        yielded++;
        yield chunk;
      }
    },
    close: async () => undefined,
  };
}

/** A source that hands out `records` in one chunk, positions 1…n. */
function listSource(records: DecodeResult[]): Source {
  return {
    type: 'list',
    identity: () => ({ type: 'list' }),
    decodeRaw: () => ({ ok: false, error: { path: '', reason: 'none' } }),
    async *read() {
      yield records.map((decoded, i) => ({ position: i + 1, decoded, bytes: 10, locator: `list:${i + 1}`, ...(decoded.ok ? {} : { rawText: `raw ${i + 1}` }) }));
    },
    close: async () => undefined,
  };
}

/** A logger whose JSON lines are kept, to check what was logged (levels and fields, not wording). */
function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const eventIds = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => connectEvent(from + k).id);

describe('Lane: one record never ends the route', () => {
  it('a mapping that throws on one record: that record is dead-lettered (FWD_MAP_FAILED), the others are delivered', async () => {
    const throwing: Mapping = {
      ...(canonicalMapping as Mapping),
      map: (e, o) => {
        if (e.id === connectEvent(3).id) throw new RangeError('Maximum call stack size exceeded');
        return canonicalMapping.map(e, o);
      },
    };
    const records = [1, 2, 3, 4, 5].map((i) => ok(connectEvent(i)));
    const { lane, dead, sink, commits } = setup(listSource(records), { mapping: throwing });
    const r = await lane.run();
    expect(r.state).toBe('finished');
    expect(r.counters).toMatchObject({ read: 5, delivered: 4, dead_lettered: 1 });
    expect(sink.delivered).toEqual([1, 2, 4, 5].map((i) => connectEvent(i).id));
    expect(dead).toEqual([expect.objectContaining({ stage: 'map', code: 'FWD_MAP_FAILED', eventId: connectEvent(3).id, position: 3, reason: expect.stringContaining('Maximum call stack') })]);
    expect(commits.at(-1)?.position).toBe(5);
  });

  it('a mapped value the encoder cannot write (a BigInt) is that record’s dead letter, not the route’s end', async () => {
    const bigint: Mapping = { ...(canonicalMapping as Mapping), map: (e) => ({ kind: 'mapped', value: e.id === connectEvent(2).id ? { n: 1n } : e }) };
    const { lane, dead, sink } = setup(listSource([1, 2, 3].map((i) => ok(connectEvent(i)))), { mapping: bigint });
    const r = await lane.run();
    expect(r.state).toBe('finished');
    expect(sink.delivered).toEqual([connectEvent(1).id, connectEvent(3).id]);
    expect(dead).toEqual([expect.objectContaining({ code: 'FWD_MAP_FAILED', eventId: connectEvent(2).id })]);
  });

  it('every dead letter carries its code: decode (its own or FWD_DECODE_INVALID), map, sink', async () => {
    const records: DecodeResult[] = [
      ok(connectEvent(1)),
      { ok: false, error: { path: '', reason: 'not JSON' } },
      { ok: false, error: { path: 'requestData[0][0]…', reason: 'too deep', code: 'FWD_DECODE_TOO_DEEP' } },
      ok(connectEvent(4)),
      ok(connectEvent(5)),
    ];
    const invalid: Mapping = { ...(canonicalMapping as Mapping), map: (e, o) => (e.id === connectEvent(4).id ? { kind: 'invalid', reason: 'no', path: 'actor' } : canonicalMapping.map(e, o)) };
    const { lane, dead } = setup(listSource(records), { mapping: invalid });
    const sinkRefusing = scriptedSink((b) => (b.records.some((x) => x.eventId === connectEvent(5).id) ? { status: 'rejected', scope: 'batch', reason: 'refused' } : { status: 'delivered' }));
    const second = setup(listSource(records), { mapping: invalid, sink: sinkRefusing });
    await lane.run();
    await second.lane.run();
    expect(dead.map((d) => [d.stage, d.code])).toEqual([
      ['decode', 'FWD_DECODE_INVALID'],
      ['decode', 'FWD_DECODE_TOO_DEEP'],
      ['map', 'FWD_MAP_INVALID'],
    ]);
    expect(second.dead.map((d) => [d.stage, d.code])).toEqual([
      ['decode', 'FWD_DECODE_INVALID'],
      ['decode', 'FWD_DECODE_TOO_DEEP'],
      ['map', 'FWD_MAP_INVALID'],
      ['sink', 'FWD_SINK_REJECTED'],
    ]);
  });

  it('dead letters are logged at warn with route, sink, code and locator — the first ones one by one, the rest summed up', async () => {
    const { logger, lines } = capturingLogger();
    const records: DecodeResult[] = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? ok(connectEvent(i + 1)) : { ok: false, error: { path: '', reason: `bad ${i}` } }));
    const { lane } = setup(listSource(records), { logger: logger.child({ route: 'r', sink: 's' }) });
    const r = await lane.run();
    expect(r.counters.dead_lettered).toBe(20);
    const warned = lines.filter((l) => l.level === 40);
    const single = warned.filter((l) => l.code !== undefined);
    expect(single).toHaveLength(10);
    expect(single[0]).toMatchObject({ route: 'r', sink: 's', stage: 'decode', code: 'FWD_DECODE_INVALID', locator: 'list:2' });
    // Never the record's content.
    expect(JSON.stringify(single)).not.toContain('raw 2');
    const summary = warned.filter((l) => l.more !== undefined);
    expect(summary).toEqual([expect.objectContaining({ route: 'r', sink: 's', more: 10, byCode: { FWD_DECODE_INVALID: 10 } })]);
  });
});

describe('Lane: a source fails like a sink, retried when it can recover', () => {
  it('a retryable errno (EIO) mid-read: reading goes on from the last record read; nothing lost or read twice', async () => {
    let failures = 0;
    const source = flakySource(20, (from, yielded) => {
      // The first two reads fail after handing out two chunks; the third once before its first chunk.
      if (failures < 2 && yielded === 2) return (failures++, Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
      if (failures === 2 && from > 0) return (failures++, Object.assign(new Error('ESTALE: stale file handle'), { code: 'ESTALE' }));
      return undefined;
    });
    const { lane, sink, commits } = setup(source);
    const r = await lane.run();
    expect(r.state).toBe('finished');
    expect(sink.delivered).toEqual(eventIds(1, 20));
    expect(source.reads).toEqual([0, 6, 12, 12]);
    expect(r.counters.sourceRetries).toBe(3);
    expect(commits.at(-1)?.position).toBe(20);
  });

  it('a retryable ForwarderError is retried too', async () => {
    let failed = false;
    const source = flakySource(5, () => (failed ? undefined : ((failed = true), new ForwarderError('FWD_SOURCE_IO', 'cannot open x: EMFILE', { stage: 'source', disposition: 'retryable' }))));
    const { lane, sink } = setup(source);
    const r = await lane.run();
    expect(r.state).toBe('finished');
    expect(sink.delivered).toEqual(eventIds(1, 5));
    expect(r.counters.sourceRetries).toBe(1);
  });

  it('a permanent errno (EACCES) stops the route with what to fix; what was read before is delivered and committed', async () => {
    const source = flakySource(20, (_, yielded) => (yielded === 2 ? Object.assign(new Error("EACCES: permission denied, open '/var/log/audit/x.log'"), { code: 'EACCES' }) : undefined));
    const { lane, sink, commits } = setup(source);
    const r = await lane.run();
    expect(r.state).toBe('failed');
    expect(r.error).toContain('EACCES');
    expect(r.error).toContain("forwarder's user");
    expect(r.counters.sourceRetries).toBe(0);
    // The failure abandons batches still in flight; whatever was committed was delivered.
    expect(sink.delivered).toEqual(eventIds(1, sink.delivered.length));
    expect((commits.at(-1)?.position as number | undefined) ?? 0).toBeLessThanOrEqual(sink.delivered.length);
  });

  it('a bug in a source (a TypeError) is not retried: the route stops and says so', async () => {
    const source = flakySource(5, () => new TypeError("Cannot read properties of undefined (reading 'x')"));
    const { lane } = setup(source);
    const r = await lane.run();
    expect(r.state).toBe('failed');
    expect(r.error).toContain('a bug');
    expect(r.counters.sourceRetries).toBe(0);
  });
});
