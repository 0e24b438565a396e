// Deeply nested records in every decoding source: dead-lettered as FWD_DECODE_TOO_DEEP with their path, the route reads on.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditFilesSourceSchema } from '../../connectors/audit-files/config.ts';
import { createAuditFilesSource } from '../../connectors/audit-files/source.ts';
import { connectSourceSchema } from '../../connectors/connect/config.ts';
import { createConnectSource } from '../../connectors/connect/source.ts';
import { jsonlSourceSchema } from '../../connectors/jsonl/config.ts';
import { createJsonlSource, type JsonlPosition } from '../../connectors/jsonl/source.ts';
import type { Source, SourceRecord } from '../../src/contracts/source.ts';
import { silentLogger } from '../../src/logging.ts';
import { DEFAULT_MAX_NESTING_DEPTH, MAX_NESTING_DEPTH_LIMIT } from '../../src/model/decode.ts';
import { jsonText, type JsonValue } from '../../src/model/json.ts';
import { nowCanonical } from '../../src/model/now.ts';
import { connectEventJson } from '../support/generate.ts';
import { MemoryConnectReader } from '../support/memory-connect-reader.ts';
import { deepEqual, nested } from '../support/deep-json.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fwd-deep-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const context = () => ({ logger: silentLogger(), baseDir: root });
const never = () => new AbortController().signal;

async function readAll(source: Source, range?: { from: string; to: string }): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const chunk of source.read(undefined, { signal: never(), ...(range !== undefined && { range }) })) out.push(...chunk);
  return out;
}

const cadf = (i: number, requestData?: unknown): string =>
  jsonText({ id: `cadf-${i}`, eventTime: `2026-05-12T07:59:${String(i).padStart(2, '0')}Z`, action: 'create', outcome: 'success', ...(requestData !== undefined && { requestData }) });

const idOf = (r: SourceRecord): string => (r.decoded.ok ? r.decoded.event.id : `invalid ${r.decoded.error.code ?? 'FWD_DECODE_INVALID'}`);

describe('maxNestingDepth in the source schemas', () => {
  const schemas = [
    ['jsonl', (extra: object) => jsonlSourceSchema.safeParse({ type: 'jsonl', paths: ['a.jsonl'], ...extra })],
    ['audit-files', (extra: object) => auditFilesSourceSchema.safeParse({ type: 'audit-files', ...extra })],
    ['connect', (extra: object) => connectSourceSchema.safeParse({ type: 'connect', api: { url: 'https://connect.example.org' }, ...extra })],
  ] as const;

  it.each(schemas)('%s: an integer from 1 to the bound; absent, the decoders apply the default', (_type, parse) => {
    expect(parse({}).success).toBe(true);
    expect(parse({}).data).not.toHaveProperty('maxNestingDepth', expect.anything());
    for (const ok of [1, DEFAULT_MAX_NESTING_DEPTH, MAX_NESTING_DEPTH_LIMIT]) expect(parse({ maxNestingDepth: ok }).data).toMatchObject({ maxNestingDepth: ok });
    for (const bad of [0, -1, MAX_NESTING_DEPTH_LIMIT + 1, 1.5, '10', null]) expect(parse({ maxNestingDepth: bad }).success, String(bad)).toBe(false);
  });
});

describe('jsonl source', () => {
  it('dead-letters a deep line with code, path and byte offset; positions and line numbers go on as before', async () => {
    const file = path.join(root, 'deep.jsonl');
    const lines = [cadf(1), cadf(2, nested(3000, [])), cadf(3, nested(100_000, {})), cadf(4, nested(DEFAULT_MAX_NESTING_DEPTH - 2, 1)), '  \t', cadf(6)];
    await writeFile(file, `${lines.join('\n')}\n`);
    const config = jsonlSourceSchema.parse({ type: 'jsonl', paths: [file], format: 'auto' });
    const records = await readAll(createJsonlSource('deep', config, context()));
    expect(records.map(idOf)).toEqual(['cadf-1', 'invalid FWD_DECODE_TOO_DEEP', 'invalid FWD_DECODE_TOO_DEEP', 'cadf-4', 'cadf-6']);
    expect(records.map((r) => (r.position as JsonlPosition).line)).toEqual([1, 2, 3, 4, 6]);
    const offsetOf = (k: number) => lines.slice(0, k).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    expect(records.map((r) => (r.position as JsonlPosition).offset)).toEqual([1, 2, 3, 4, 6].map(offsetOf));
    const deep = records[1]!;
    expect(deep.decoded).toEqual({
      ok: false,
      error: {
        path: 'requestData[0][0][0][0][0][0][0]… (3002 levels)',
        reason: `nested deeper than maxNestingDepth (${DEFAULT_MAX_NESTING_DEPTH}): 3002 levels of objects and arrays (byte offset ${offsetOf(1)})`,
        code: 'FWD_DECODE_TOO_DEEP',
      },
    });
    expect(deep.rawText).toBe(lines[1]);
    expect(deep.locator).toBe(`${file}:2`);
  });

  it('reads maxNestingDepth from its configuration, for read and for decodeRaw', async () => {
    const file = path.join(root, 'limit.jsonl');
    const three = cadf(1, { a: [1] });
    const four = cadf(2, { a: [[1]] });
    await writeFile(file, `${three}\n${four}\n`);
    const source = createJsonlSource('limit', jsonlSourceSchema.parse({ type: 'jsonl', paths: [file], format: 'cadf', maxNestingDepth: 3 }), context());
    expect((await readAll(source)).map(idOf)).toEqual(['cadf-1', 'invalid FWD_DECODE_TOO_DEEP']);
    expect(source.decodeRaw(four)).toMatchObject({ ok: false, error: { code: 'FWD_DECODE_TOO_DEEP', path: 'requestData.a[0]' } });
    expect(source.decodeRaw(three).ok).toBe(true);
  });
});

describe('audit-files source', () => {
  it('dead-letters a deep line with code, path and where it is; the next lines are read', async () => {
    const file = path.join(root, 'auth-idp-audit.log');
    await writeFile(file, `${cadf(1)}\n${cadf(2, nested(50_000, {}))}\n${cadf(3, [[[1]]])}\n${cadf(4)}\n`);
    const config = auditFilesSourceSchema.parse({ type: 'audit-files', paths: [file], pollInterval: 20, maxNestingDepth: 3 });
    const source = createAuditFilesSource('deep', config, context());
    const controller = new AbortController();
    const records: SourceRecord[] = [];
    for await (const chunk of source.read(undefined, { signal: controller.signal })) {
      records.push(...chunk);
      if (records.length >= 4) controller.abort();
    }
    expect(records.map(idOf)).toEqual(['cadf-1', 'invalid FWD_DECODE_TOO_DEEP', 'invalid FWD_DECODE_TOO_DEEP', 'cadf-4']);
    const [, deep, three] = records;
    expect(deep!.decoded).toMatchObject({ ok: false, error: { path: 'requestData[0][0]', reason: expect.stringMatching(/^nested deeper than maxNestingDepth \(3\): 50002 levels .*\(.*auth-idp-audit\.log line 2, byte offset \d+\)$/) } });
    expect(three!.decoded).toMatchObject({ ok: false, error: { path: 'requestData[0][0]', code: 'FWD_DECODE_TOO_DEEP' } });
    expect(source.decodeRaw(cadf(5, [[1]])).ok).toBe(true);
    expect(source.decodeRaw(cadf(5, [[[1]]]))).toMatchObject({ ok: false, error: { code: 'FWD_DECODE_TOO_DEEP' } });
    await source.close();
  });
});

describe('connect source', () => {
  it('deep events (data as JSON or base64 bytes, beyond JSON.stringify) are dead-lettered with their raw text; the others delivered', async () => {
    const deepData = nested(20_000, { x: 1 });
    const events: JsonValue[] = [
      connectEventJson(0) as JsonValue,
      { ...connectEventJson(1), data: deepData } as JsonValue,
      { ...connectEventJson(2), data: Buffer.from(jsonText(deepData)).toString('base64') } as JsonValue,
      // No id: held by content, which is written as JSON text too.
      { ...connectEventJson(3), id: undefined, data: deepData } as unknown as JsonValue,
      connectEventJson(4) as JsonValue,
    ];
    const reader = new MemoryConnectReader({ pageSize: 2 });
    reader.insertEvents(events);
    const base = Date.parse((connectEventJson(0) as { occurredAt: string }).occurredAt);
    const config = connectSourceSchema.parse({ type: 'connect', api: { url: 'https://connect.example.org' }, settleDelay: 0 });
    const source = createConnectSource('deep', config, context(), reader, { now: () => base + 3_600_000 });
    const records = await readAll(source, { from: nowCanonical(base - 1000), to: nowCanonical(base + 60_000) });
    expect(records.map(idOf).sort()).toEqual(
      [connectEventJson(0)['id'], connectEventJson(4)['id'], 'invalid FWD_DECODE_TOO_DEEP', 'invalid FWD_DECODE_TOO_DEEP', 'invalid FWD_DECODE_TOO_DEEP'].sort(),
    );
    for (const r of records.filter((x) => !x.decoded.ok)) {
      expect(r.decoded).toMatchObject({ ok: false, error: { path: expect.stringMatching(/^data\[0\]/), code: 'FWD_DECODE_TOO_DEEP' } });
      const raw = JSON.parse(r.rawText!) as { data: unknown };
      expect(typeof raw.data === 'string' || deepEqual(raw.data, deepData)).toBe(true);
    }
    expect(source.stats().invalid_events_total).toBe(3);
    expect(source.decodeRaw(jsonText(events[1]))).toMatchObject({ ok: false, error: { code: 'FWD_DECODE_TOO_DEEP' } });
  });
});
