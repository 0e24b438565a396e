// The `splunk-hec` reconciliation queries: SPL and export answers (pure), then against the fake HEC's search endpoint on a real socket.
import { afterEach, describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/index.ts';
import { SEARCH_STATUS_TABLE, searchKeys, searchStatusError, searchStatusRow } from '../../connectors/splunk-hec/classify.ts';
import { splunkHecSinkSchema, type SplunkHecSinkConfig } from '../../connectors/splunk-hec/config.ts';
import {
  countsSearch,
  epochSecondsText,
  eventIdsOf,
  ExportAnswerError,
  exportForm,
  idsSearch,
  parseExportAnswer,
  splScope,
  splString,
  windowCountsOf,
} from '../../connectors/splunk-hec/query.ts';
import { createSplunkHecSink } from '../../connectors/splunk-hec/sink.ts';
import { severityOf } from '../../mappings/common/taxonomy.ts';
import { splunkHecMapping } from '../../mappings/splunk-hec/index.ts';
import type { SinkConnector } from '../../src/contracts/connector.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { SinkRecord } from '../../src/contracts/sink.ts';
import type { SinkQuery, SinkQueryScope } from '../../src/contracts/sink-query.ts';
import { encodeValue } from '../../src/delivery/encode.ts';
import { silentLogger } from '../../src/logging.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { cadfEvent, connectEvent } from '../support/events.ts';
import { startFakeHec, type FakeHec, type FakeHecOptions } from '../support/fake-hec.ts';

const context = { logger: silentLogger(), baseDir: '/' };
const signal = new AbortController().signal;
const MINUTE = 60_000;

const T = (hhmmss: string): string => `2026-01-02T${hhmmss}Z`;
const range = { from: T('03:04:00.000000'), to: T('03:08:00.000000') };
const window = (hhmm: string, count: number) => ({ from: T(`${hhmm}:00.000000`), to: T(`${nextMinute(hhmm)}:00.000000`), count });
function nextMinute(hhmm: string): string {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const t = h * 60 + m + 1;
  return `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
}

// ---- pure ----

describe('SPL', () => {
  it('quotes values with \\ escaping " and \\, so | [ = and spaces stay literal', () => {
    expect(splString('audit', 'index')).toBe('"audit"');
    expect(splString('a"b\\c | delete [x]', 'index')).toBe(String.raw`"a\"b\\c | delete [x]"`);
  });

  it('refuses what SPL cannot hold literally (a control character, a wildcard): FWD_CONFIG_INVALID naming the option', () => {
    for (const bad of ['a*', 'line\nbreak', 'nul\u0000']) {
      expect(() => splString(bad, 'sourcetype')).toThrow(expect.objectContaining({ code: 'FWD_CONFIG_INVALID', message: expect.stringContaining('mappingOptions.sourcetype') }));
    }
  });

  it('builds the two fixed searches; no index= without a route index; the origin defaults of the mapping, both for mixed', () => {
    const one = splScope({ mappingOptions: { index: 'audit', sourcetype: 'custom:audit' }, origin: 'cofide-connect' });
    expect(countsSearch(one, MINUTE)).toBe('search index="audit" sourcetype="custom:audit" event_id=* | eval w=floor(_time/60)*60 | stats dc(event_id) as count by w');
    expect(idsSearch(one)).toBe('search index="audit" sourcetype="custom:audit" event_id=* | stats count by event_id | fields event_id');
    const defaults = splScope({ mappingOptions: {}, origin: 'ibm-cadf' });
    expect(idsSearch(defaults)).toBe('search sourcetype="ibm:cadf:audit" event_id=* | stats count by event_id | fields event_id');
    const mixed = splScope({ mappingOptions: { index: '' }, origin: 'mixed' });
    expect(countsSearch(mixed, 1500)).toBe(
      'search (sourcetype="cofide:connect:audit" OR sourcetype="ibm:cadf:audit") event_id=* | eval w=floor(_time/1.5)*1.5 | stats dc(event_id) as count by w',
    );
    expect(() => countsSearch(one, 0)).toThrow(TypeError);
    expect(() => countsSearch(one, 1.5)).toThrow(TypeError);
  });

  it('sends the range as epoch seconds with their microseconds, JSON lines', () => {
    expect(epochSecondsText(T('03:04:00.000000'))).toBe('1767323040');
    expect(epochSecondsText(T('03:04:00.500000'))).toBe('1767323040.5');
    expect(epochSecondsText(T('03:04:00.000001'))).toBe('1767323040.000001');
    expect(exportForm('search x', range)).toEqual({ search: 'search x', output_mode: 'json', earliest_time: '1767323040', latest_time: '1767323280' });
  });
});

describe('export answers', () => {
  const line = (o: unknown) => JSON.stringify(o);

  it('reads final results, ignores previews before them, and takes an empty body as no result', () => {
    const body = [
      line({ preview: true, offset: 0, result: { w: '1767323040', count: '1' } }),
      line({ preview: false, offset: 0, result: { w: '1767323040', count: '3' } }),
      '',
      line({ preview: false, offset: 1, lastrow: true, result: { w: '1767323160', count: '2' } }),
    ].join('\n');
    expect(parseExportAnswer(body).rows).toEqual([
      { w: '1767323040', count: '3' },
      { w: '1767323160', count: '2' },
    ]);
    expect(parseExportAnswer('').rows).toEqual([]);
    expect(parseExportAnswer(line({ preview: false, offset: 0, lastrow: true })).rows).toEqual([]);
  });

  it('a FATAL or ERROR message refuses the answer; WARN is a note; previews alone, or a line that is not JSON, are not an answer', () => {
    expect(() => parseExportAnswer(line({ messages: [{ type: 'FATAL', text: "Error in 'search' command" }] }))).toThrow(
      expect.objectContaining({ kind: 'refused', message: expect.stringContaining("FATAL: Error in 'search' command") }),
    );
    expect(() => parseExportAnswer(line({ messages: [{ type: 'ERROR', text: 'peer down' }] }))).toThrow(ExportAnswerError);
    expect(parseExportAnswer(line({ messages: [{ type: 'WARN', text: 'slow peer' }] })).notes).toEqual(['WARN: slow peer']);
    expect(() => parseExportAnswer(line({ preview: true, result: { w: '1', count: '1' } }))).toThrow(expect.objectContaining({ kind: 'bad' }));
    expect(() => parseExportAnswer('<html>proxy</html>')).toThrow(expect.objectContaining({ kind: 'bad' }));
  });

  it('turns window starts (epoch seconds, as strings or numbers) into canonical windows of the range, in time order', () => {
    const rows = [
      { w: '1767323160', count: '2' },
      { w: 1767323040, count: 3 },
      // A double a hair under the window start, as floor(_time/1.5)*1.5 can give: rounded to its window.
      { w: '1767323219.9999998', count: '1' },
      // Outside [from, to): dropped.
      { w: '1767323280', count: '9' },
      { w: '1767322980', count: '9' },
    ];
    expect(windowCountsOf(rows, MINUTE, range)).toEqual([window('03:04', 3), window('03:06', 2), window('03:07', 1)]);
    expect(() => windowCountsOf([{ w: 'x', count: '1' }], MINUTE, range)).toThrow(ExportAnswerError);
    expect(() => windowCountsOf([{ w: '1767323040', count: '1.5' }], MINUTE, range)).toThrow(ExportAnswerError);
    expect(eventIdsOf([{ event_id: 'b' }, { event_id: 'a' }, { event_id: ['c', 'a'] }])).toEqual(['b', 'a', 'c']);
    expect(() => eventIdsOf([{ count: '1' }])).toThrow(ExportAnswerError);
  });
});

describe('search answer table', () => {
  it('401 and 403 are permanent with what to check; 5xx, 408 and 429 retryable; every other status permanent', () => {
    const keys = searchKeys('hec');
    const cases: Array<[number, string, string]> = [
      [401, 'FWD_SINK_PERMANENT', 'sinks.hec.search.token / sinks.hec.search.tokenFile'],
      [403, 'FWD_SINK_PERMANENT', 'the `search` capability'],
      [400, 'FWD_SINK_PERMANENT', 'refused the search'],
      [404, 'FWD_SINK_PERMANENT', 'sinks.hec.search.url'],
      [500, 'FWD_SINK_IO', 'failed'],
      [503, 'FWD_SINK_IO', 'failed'],
      [429, 'FWD_SINK_IO', 'quota'],
      [408, 'FWD_SINK_IO', 'timed out'],
      [302, 'FWD_SINK_PERMANENT', 'redirected'],
      [418, 'FWD_SINK_PERMANENT', 'not an answer'],
    ];
    for (const [status, code, words] of cases) {
      const e = searchStatusError(status, JSON.stringify({ messages: [{ type: 'FATAL', text: 'said' }] }), 'https://s:8089/services/search/jobs/export', keys, 'index audit');
      expect(e, String(status)).toMatchObject({ code, disposition: code === 'FWD_SINK_IO' ? 'retryable' : 'permanent' });
      expect(e.message, String(status)).toContain(words);
      expect(e.message).toContain('FATAL: said');
      expect(e.message).toContain('https://s:8089/services/search/jobs/export');
    }
    expect(searchStatusRow(599).code).toBe('FWD_SINK_IO');
    expect(SEARCH_STATUS_TABLE.at(-1)!.code).toBe('FWD_SINK_PERMANENT');
  });
});

// ---- against the fake ----

/** A record as the lane makes it: the event through the real `splunk-hec` mapping with the route's options. */
function recordOf(event: AuditEvent, options: Record<string, string>): SinkRecord {
  const m = splunkHecMapping.map(event, options);
  if (m.kind !== 'mapped') throw new Error(`not mapped: ${JSON.stringify(m)}`);
  const payload = encodeValue(splunkHecMapping, m.value);
  return { eventId: event.id, eventTime: event.time, eventType: event.type, severity: severityOf(event), value: m.value, payload, bytes: Buffer.byteLength(payload) };
}

const ev = (id: string, time: string, kind: 'connect' | 'cadf' = 'connect'): AuditEvent => (kind === 'connect' ? connectEvent({ id, time }) : cadfEvent({ id, time }));

/** Events of known windows of `range` (03:04 → 03:08), and around it. */
const EVENTS = {
  before: ev('e0', T('03:03:59.999999')),
  w0: [ev('e1', T('03:04:00.000000')), ev('e2', T('03:04:30.500000')), ev('e3', T('03:04:59.999999'))],
  w2: [ev('e4', T('03:06:10.250000')), ev('e5', T('03:06:20.000000'))],
  w3: [ev('e6', T('03:07:00.000001'))],
  // Exactly `to`: in the next window, outside the range.
  atTo: ev('e7', T('03:08:00.000000')),
};

describe('splunk-hec query against the fake HEC', () => {
  const fakes: FakeHec[] = [];
  const closing: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const c of closing.splice(0)) await c.close();
    for (const f of fakes.splice(0)) await f.close();
  });

  const fake = async (options: FakeHecOptions = {}) => {
    const f = await startFakeHec({ tokens: { 'test-token': {} }, ...options });
    fakes.push(f);
    return f;
  };

  function config(hecUrl: string, search: Record<string, unknown> | undefined): SplunkHecSinkConfig {
    return splunkHecSinkSchema.parse({ type: 'splunk-hec', url: hecUrl, token: 'test-token', ...(search === undefined ? {} : { search }) });
  }

  async function queryOf(c: SplunkHecSinkConfig, name = 'hec'): Promise<SinkQuery> {
    const connector = connectors.sinks.get('splunk-hec') as unknown as SinkConnector<SplunkHecSinkConfig>;
    await connector.load!();
    const q = connector.query!(name, c, context);
    closing.push(q);
    return q;
  }

  /** Sends the events through the real sink, each list as one batch; every batch must be delivered. */
  async function send(c: SplunkHecSinkConfig, options: Record<string, string>, ...batches: AuditEvent[][]): Promise<void> {
    const sink = createSplunkHecSink('hec', c, context);
    try {
      for (const events of batches) {
        const records = events.map((e) => recordOf(e, options));
        expect(await sink.send({ records, bytes: records.reduce((n, r) => n + r.bytes, 0) }, signal)).toEqual({ status: 'delivered' });
      }
    } finally {
      await sink.close();
    }
  }

  const scope: SinkQueryScope = { mappingOptions: { index: 'audit' }, origin: 'cofide-connect' };

  it('counts distinct ids per window (re-sent events once, the event at `to` out), lists the ids of a window, and sees deletions', async () => {
    const f = await fake();
    const c = config(f.url, { url: f.url, token: 'search-token' });
    const all = [EVENTS.before, ...EVENTS.w0, ...EVENTS.w2, ...EVENTS.w3, EVENTS.atTo];
    // e2 and e4 sent again (an ack timeout's resend), and another route's event in window 0 (another index).
    await send(c, { index: 'audit' }, all, [EVENTS.w0[1]!, EVENTS.w2[0]!]);
    await send(c, { index: 'other' }, [ev('x1', T('03:04:10.000000'))]);
    expect(f.indexedCount()).toBe(all.length + 3);

    const q = await queryOf(c);
    expect(await q.countByWindow(range, MINUTE, scope, signal)).toEqual([window('03:04', 3), window('03:06', 2), window('03:07', 1)]);
    expect((await q.eventIds({ from: T('03:04:00.000000'), to: T('03:05:00.000000') }, scope, signal)).sort()).toEqual(['e1', 'e2', 'e3']);
    expect(await q.eventIds({ from: T('03:05:00.000000'), to: T('03:06:00.000000') }, scope, signal)).toEqual([]);

    // Both copies of e2 and e4 go.
    expect(f.deleteEvents(['e2', 'e4', 'nope'])).toBe(4);
    expect(await q.countByWindow(range, MINUTE, scope, signal)).toEqual([window('03:04', 2), window('03:06', 1), window('03:07', 1)]);
    expect((await q.eventIds(range, scope, signal)).sort()).toEqual(['e1', 'e3', 'e5', 'e6']);

    // What Splunk was asked: the fixed searches, over the management API with the search token.
    const searches = f.searches();
    expect(searches.every((s) => s.status === 200 && s.index === 'audit' && s.sourcetypes.join() === 'cofide:connect:audit')).toBe(true);
    expect(searches[0]!.search).toBe('search index="audit" sourcetype="cofide:connect:audit" event_id=* | eval w=floor(_time/60)*60 | stats dc(event_id) as count by w');
    const exports = f.requests().filter((r) => r.path === '/services/search/jobs/export');
    expect(exports.every((r) => r.authorization === 'Bearer search-token' && r.method === 'POST')).toBe(true);
    await q.close();
    await q.close();
  });

  it('a route without index searches the default indexes; a mixed route both default sourcetypes', async () => {
    const f = await fake();
    const c = config(f.url, { url: f.url, token: 'search-token' });
    await send(c, {}, [ev('c1', T('03:04:01.000000')), ev('k1', T('03:04:02.000000'), 'cadf'), ev('k2', T('03:06:02.000000'), 'cadf')]);
    const q = await queryOf(c);
    const mixed: SinkQueryScope = { mappingOptions: {}, origin: 'mixed' };
    expect(await q.countByWindow(range, MINUTE, mixed, signal)).toEqual([window('03:04', 2), window('03:06', 1)]);
    expect(await q.countByWindow(range, MINUTE, { mappingOptions: {}, origin: 'ibm-cadf' }, signal)).toEqual([window('03:04', 1), window('03:06', 1)]);
    expect(f.searches().at(-1)!.index).toBeUndefined();
    expect(await q.countByWindow(range, 2 * MINUTE, mixed, signal)).toEqual([
      { from: T('03:04:00.000000'), to: T('03:06:00.000000'), count: 2 },
      { from: T('03:06:00.000000'), to: T('03:08:00.000000'), count: 1 },
    ]);
  });

  it('an index holding " and | is searched as one literal index, never as more SPL', async () => {
    const f = await fake();
    const c = config(f.url, { url: f.url, token: 'search-token' });
    const evil = 'audit" | delete | search index="x';
    await send(c, { index: evil }, [ev('i1', T('03:04:01.000000')), ev('i2', T('03:06:01.000000'))]);
    await send(c, { index: 'x' }, [ev('i3', T('03:04:02.000000'))]);
    const q = await queryOf(c);
    const injected: SinkQueryScope = { mappingOptions: { index: evil }, origin: 'cofide-connect' };
    expect(await q.countByWindow(range, MINUTE, injected, signal)).toEqual([window('03:04', 1), window('03:06', 1)]);
    expect((await q.eventIds(range, injected, signal)).sort()).toEqual(['i1', 'i2']);
    const seen = f.searches().at(-1)!;
    expect(seen).toMatchObject({ status: 200, kind: 'ids', index: evil });
    expect(seen.search).toBe(String.raw`search index="audit\" | delete | search index=\"x" sourcetype="cofide:connect:audit" event_id=* | stats count by event_id | fields event_id`);
  });

  it('401 and 403 reject FWD_SINK_PERMANENT naming the URL and what to check, never the token', async () => {
    const f = await fake({ searchTokens: { 'search-token': {}, 'no-search-token': { canSearch: false } } });
    const wrong = await queryOf(config(f.url, { url: f.url, token: 'wrong-secret-token' }));
    const refused = await wrong.countByWindow(range, MINUTE, scope, signal).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(ForwarderError);
    expect(refused).toMatchObject({ code: 'FWD_SINK_PERMANENT', disposition: 'permanent', stage: 'sink' });
    const message = (refused as Error).message;
    expect(message).toContain(`${f.url}/services/search/jobs/export`);
    expect(message).toContain('HTTP 401');
    expect(message).toContain('sinks.hec.search.token');
    expect(message).not.toContain('wrong-secret-token');

    const cannot = await queryOf(config(f.url, { url: f.url, token: 'no-search-token' }));
    const forbidden = await cannot.eventIds(range, scope, signal).then(() => undefined, (e: unknown) => e);
    expect(forbidden).toMatchObject({ code: 'FWD_SINK_PERMANENT', message: expect.stringMatching(/HTTP 403 .*`search` capability.*index audit/) });
    expect((forbidden as Error).message).not.toContain('no-search-token');
  });

  it('unreachable rejects FWD_SINK_IO (retryable) with the network fix; an aborted query rejects with the signal’s reason', async () => {
    const f = await fake();
    const q = await queryOf(config(f.url, { url: f.url, token: 'search-token' }));
    await f.stop();
    await expect(q.countByWindow(range, MINUTE, scope, signal)).rejects.toMatchObject({
      code: 'FWD_SINK_IO',
      disposition: 'retryable',
      message: expect.stringMatching(/no answer \(.*ECONNREFUSED.*refused/),
    });
    const aborted = new AbortController();
    const reason = new Error('stop now');
    aborted.abort(reason);
    await expect(q.eventIds(range, scope, aborted.signal)).rejects.toBe(reason);
  });

  it('a role that may not search the index finds nothing (Splunk says nothing either): what the README warns about', async () => {
    const f = await fake({ searchTokens: { 'search-token': { indexes: ['main'] } } });
    const c = config(f.url, { url: f.url, token: 'search-token' });
    await send(c, { index: 'audit' }, EVENTS.w0);
    const q = await queryOf(c);
    expect(await q.countByWindow(range, MINUTE, scope, signal)).toEqual([]);
  });

  it('without a search block, query() throws FWD_CONFIG_INVALID naming sinks.<name>.search.url; a wildcard in a route option rejects as config', async () => {
    const f = await fake();
    const connector = connectors.sinks.get('splunk-hec') as unknown as SinkConnector<SplunkHecSinkConfig>;
    await connector.load!();
    expect(() => connector.query!('siem', config(f.url, undefined), context)).toThrow(
      expect.objectContaining({ code: 'FWD_CONFIG_INVALID', message: expect.stringContaining('sinks.siem.search.url') }),
    );
    const q = await queryOf(config(f.url, { url: f.url, token: 'search-token' }));
    await expect(q.countByWindow(range, MINUTE, { mappingOptions: { index: 'aud*' }, origin: 'cofide-connect' }, signal)).rejects.toMatchObject({ code: 'FWD_CONFIG_INVALID' });
    expect(f.searches()).toEqual([]);
  });

  it('the fake is not a search engine: any other search is refused 400 FATAL; no credentials 401; other output modes refused', async () => {
    const f = await fake();
    const post = async (form: Record<string, string>, authorization = 'Bearer search-token') => {
      const res = await fetch(`${f.url}/services/search/jobs/export`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
      return { status: res.status, body: await res.text() };
    };
    const times = { earliest_time: '1767323040', latest_time: '1767323280' };
    const ok = await post({ search: idsSearch(splScope(scope)), output_mode: 'json', ...times });
    expect(ok).toEqual({ status: 200, body: '' });
    for (const search of ['search index="audit" | delete', 'search index=audit sourcetype="a" event_id=* | stats count by event_id | fields event_id', `${idsSearch(splScope(scope))} | head 1`]) {
      const refused = await post({ search, output_mode: 'json', ...times });
      expect(refused.status, search).toBe(400);
      expect(JSON.parse(refused.body), search).toMatchObject({ messages: [{ type: 'FATAL' }] });
    }
    expect((await post({ search: idsSearch(splScope(scope)), output_mode: 'xml', ...times })).status).toBe(400);
    expect((await post({ search: idsSearch(splScope(scope)), output_mode: 'json', earliest_time: '-1h', latest_time: 'now' })).status).toBe(400);
    expect(await post({ search: idsSearch(splScope(scope)), output_mode: 'json', ...times }, 'Splunk test-token')).toEqual({
      status: 401,
      body: JSON.stringify({ messages: [{ type: 'WARN', text: 'call not properly authenticated' }] }),
    });
    expect(f.searches().map((x) => x.status)).toEqual([200, 400, 400, 400, 400, 400, 401]);
  });

  it('the search block: url is the management base URL, a token is required, defaults applied', () => {
    const parse = (search: unknown) => splunkHecSinkSchema.safeParse({ type: 'splunk-hec', url: 'https://s:8088', token: 't', search });
    const ok = parse({ url: 'https://s:8089', token: 's' });
    expect(ok.success).toBe(true);
    expect(ok.data?.search).toMatchObject({ url: 'https://s:8089', timeout: 120_000, tls: {} });
    expect(String(ok.data?.search?.token)).toBe('[redacted]');
    const endpoint = parse({ url: 'https://s:8089/services/search/jobs/export', token: 's' });
    expect(endpoint.success).toBe(false);
    expect(JSON.stringify(endpoint.error?.issues)).toContain('use \\"https://s:8089\\"');
    expect(parse({ url: 'https://s:8089' }).success).toBe(false);
    expect(parse({ url: 'https://s:8089', token: 's', extra: 1 }).success).toBe(false);
  });
});
