// Tests of the fake Splunk HEC itself, over real loopback sockets with undici: the vendor contract the HEC sink is tested against.
import { readFileSync } from 'node:fs';
import { gzipSync, deflateSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFakeHec, type FakeHec, type FakeHecOptions } from '../support/fake-hec.ts';
import { tlsFixture } from '../support/connect-server.ts';

const TOKEN = 'test-token';
const CHANNEL = '0f0e0d0c-0b0a-4908-8706-050403020100';
const OTHER_CHANNEL = 'A1B2C3D4-E5F6-4A1B-8C2D-3E4F5A6B7C8D';
const auth = { authorization: `Splunk ${TOKEN}` };
const onChannel = { ...auth, 'x-splunk-request-channel': CHANNEL };

const agent = new Agent({ keepAliveTimeout: 1000 });
const fakes: FakeHec[] = [];

afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});
afterAll(async () => {
  await agent.close();
});

async function fake(options?: FakeHecOptions): Promise<FakeHec> {
  const f = await startFakeHec(options);
  fakes.push(f);
  return f;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

async function call(
  hec: FakeHec,
  path: string,
  options: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string | Buffer; dispatcher?: Agent } = {},
): Promise<Reply> {
  const res = await request(`${hec.url}${path}`, {
    method: options.method ?? 'POST',
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body }),
    dispatcher: options.dispatcher ?? agent,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> };
}

const send = (hec: FakeHec, body: string | Buffer, headers: Record<string, string> = onChannel, path = '/services/collector/event'): Promise<Reply> =>
  call(hec, path, { headers, body });

const pollAcks = (hec: FakeHec, ids: readonly number[], channel = CHANNEL): Promise<Reply> =>
  call(hec, '/services/collector/ack', { headers: { ...auth, 'x-splunk-request-channel': channel }, body: JSON.stringify({ acks: ids }) });

const envelope = (id: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ time: 1700000000.5, event: { id, msg: `event ${id}` }, ...extra });
const batch = (...ids: string[]): string => ids.map((id) => envelope(id)).join('\n');

describe('authentication (§1.2, codes 1–4 and 16)', () => {
  it('answers each auth failure with its status and code, and accepts Splunk and Basic auth', async () => {
    const hec = await fake({ tokens: { [TOKEN]: { ack: false }, off: { disabled: true } } });
    const body = batch('a');
    const cases: [Record<string, string>, string, number, number][] = [
      [{}, '', 401, 2],
      [{ authorization: `Bearer ${TOKEN}` }, '', 401, 3],
      [{ authorization: TOKEN }, '', 401, 3],
      [{ authorization: 'Splunk nope' }, '', 403, 4],
      [{ authorization: 'Splunk off' }, '', 403, 1],
      [{}, `?token=${TOKEN}`, 400, 16],
      [auth, `?token=${TOKEN}`, 400, 16],
    ];
    for (const [headers, query, status, code] of cases) {
      const r = await send(hec, body, headers, `/services/collector/event${query}`);
      expect([r.status, r.json.code], JSON.stringify(headers) + query).toEqual([status, code]);
    }
    expect(hec.indexedCount()).toBe(0);

    const basic = `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}`;
    for (const headers of [auth, { authorization: basic }]) {
      const r = await send(hec, body, headers);
      expect(r).toMatchObject({ status: 200, json: { text: 'Success', code: 0 } });
      expect(r.json).not.toHaveProperty('ackId');
    }
    expect(hec.indexedCount()).toBe(2);
    expect(hec.requests().map((q) => q.status)).toEqual([401, 401, 401, 403, 403, 400, 400, 200, 200]);
  });

  it('serves all three data paths; anything else is 404 with a JSON body', async () => {
    const hec = await fake({ tokens: { [TOKEN]: {} } });
    for (const path of ['/services/collector', '/services/collector/event', '/services/collector/event/1.0']) {
      expect((await send(hec, batch(path), auth, path)).status).toBe(200);
    }
    for (const [method, path] of [['POST', '/services/collector/raw'], ['GET', '/services/collector/event'], ['POST', '/x/services/collector/event']] as const) {
      const r = await call(hec, path, { method, headers: auth, ...(method === 'POST' ? { body: batch('x') } : {}) });
      expect(r).toMatchObject({ status: 404, json: { code: 404 } });
      expect(r.headers['content-type']).toContain('application/json');
    }
    expect(hec.indexedCount()).toBe(3);
  });
});

describe('scripted failures and health', () => {
  it('busy answers 503 code 9 with Retry-After and makes health unhealthy until used up; failNext answers as told', async () => {
    const hec = await fake();
    expect(await call(hec, '/services/collector/health', { method: 'GET' })).toMatchObject({ status: 200, json: { text: 'HEC is healthy', code: 17 } });
    hec.busy(2, { retryAfterSec: 7 });
    hec.failNext(1, 500, { text: 'Internal server error', code: 8 });
    // Unauthenticated requests do not use up a scripted answer.
    expect((await send(hec, batch('a'), {})).json.code).toBe(2);
    for (let k = 0; k < 2; k++) {
      expect(await call(hec, '/services/collector/health/1.0', { method: 'GET' })).toMatchObject({ status: 503, json: { code: 18 } });
      const r = await send(hec, batch('a'));
      expect(r).toMatchObject({ status: 503, json: { text: 'Server is busy', code: 9 } });
      expect(r.headers['retry-after']).toBe('7');
    }
    expect((await call(hec, '/services/collector/health', { method: 'GET' })).status).toBe(200);
    expect(await send(hec, batch('a'))).toMatchObject({ status: 500, json: { code: 8 } });
    expect(await send(hec, batch('a'))).toMatchObject({ status: 200, json: { code: 0, ackId: 0 } });
    hec.busy(1);
    expect((await send(hec, batch('b'))).headers['retry-after']).toBeUndefined();
    expect(hec.eventIds()).toEqual(['a']);
  });

  it('checks the health token only when asked to', async () => {
    const open = await fake();
    expect((await call(open, '/services/collector/health', { method: 'GET', headers: { authorization: 'Splunk nope' } })).status).toBe(200);
    const strict = await fake({ healthChecksToken: true });
    expect(await call(strict, '/services/collector/health', { method: 'GET', headers: { authorization: 'Splunk nope' } })).toMatchObject({ status: 400, json: { code: 4 } });
    expect(await call(strict, '/services/collector/health', { method: 'GET' })).toMatchObject({ status: 400, json: { code: 4 } });
    expect(await call(strict, '/services/collector/health', { method: 'GET', headers: auth })).toMatchObject({ status: 200, json: { code: 17 } });
    expect((await call(strict, `/services/collector/health?ack=true&token=${TOKEN}`, { method: 'GET' })).status).toBe(200);
  });
});

describe('body: encoding, size and envelopes (§1.3, §1.4, §5.5, §5.6)', () => {
  it('accepts gzip, refuses deflate and br with 415 and corrupt gzip with code 6', async () => {
    const hec = await fake();
    const gz = await send(hec, gzipSync(batch('g1', 'g2')), { ...onChannel, 'content-encoding': 'gzip' });
    expect(gz).toMatchObject({ status: 200, json: { code: 0 } });
    expect(hec.requests().at(-1)).toMatchObject({ contentEncoding: 'gzip', events: 2, channel: CHANNEL });
    expect((await send(hec, deflateSync(batch('d')), { ...onChannel, 'content-encoding': 'deflate' })).status).toBe(415);
    expect((await send(hec, batch('b'), { ...onChannel, 'content-encoding': 'br' })).status).toBe(415);
    expect(await send(hec, Buffer.from('not gzip at all'), { ...onChannel, 'content-encoding': 'gzip' })).toMatchObject({ status: 400, json: { code: 6 } });
    expect(hec.eventIds()).toEqual(['g1', 'g2']);
  });

  it('answers code 5 to an empty or whitespace-only body', async () => {
    const hec = await fake();
    for (const body of ['', ' \n\t\r\n ', gzipSync('')]) {
      const headers = typeof body === 'string' ? onChannel : { ...onChannel, 'content-encoding': 'gzip' };
      expect(await send(hec, body, headers)).toMatchObject({ status: 400, json: { text: 'No data', code: 5 } });
    }
  });

  it('holds the exact text of each concatenated envelope', async () => {
    const hec = await fake({ tokens: { [TOKEN]: {} } });
    const texts = [
      '{"event":{"id":"a","msg":"braces } { and \\"quotes\\" and \\\\"},"time":1700000000.123}',
      '{ "event" : "line\\u2028separator and raw \u2028 too" , "index":"main" }',
      '{"event":{"id":"c","nested":{"deep":[{"x":"}"}]}},"fields":{"k":"v","list":["a","b"]},"host":"h"}',
      '{"event":42}',
      '{"event":"an escaped quote then a brace: \\"} {\\" still the same string"}',
    ];
    const body = `  ${texts[0]}${texts[1]}\n\n${texts[2]}\t\r\n ${texts[3]}${texts[4]} \n`;
    expect(await send(hec, body, auth)).toMatchObject({ status: 200, json: { code: 0 } });
    const events = hec.events();
    expect(events.map((e) => e.text)).toEqual(texts);
    expect(events.map((e) => e.envelope)).toEqual(texts.map((t) => JSON.parse(t)));
    expect(events[1]).toMatchObject({ index: 'main', token: TOKEN, channel: undefined });
    expect(hec.eventIds()).toEqual(['a', texts[1], 'c', texts[3], texts[4]]);
    expect(hec.requests().at(-1)).toMatchObject({ events: 5, bytes: Buffer.byteLength(body) });
  });

  it('refuses a whole request at its first bad envelope, naming it, and indexes none of it', async () => {
    const hec = await fake({ tokens: { [TOKEN]: { indexes: ['main', 'audit'] } }, maxEventSize: 200 });
    hec.refuseEvent('poison');
    const good = envelope('ok', { index: 'audit' });
    const cases: [string, number, number][] = [
      ['[{"event":"x"}]', 6, 0],
      [`${good},${good}`, 6, 1],
      [`${good} "event"`, 6, 1],
      [`${good} {"event":"x"`, 6, 1],
      [`${good} {"event":"unterminated}`, 6, 1],
      [`${good} {"event": x}`, 6, 1],
      [`${good} {"event":"${'y'.repeat(200)}"}`, 6, 1],
      [`${good} {"event":"${'é'.repeat(95)}"}`, 6, 1], // under 200 UTF-16 units, over 200 bytes
      [`${good}${good} {"event":"x","index":"secret"}`, 7, 2],
      [`${good} {"event":"x","index":5}`, 7, 1],
      [`${good} {"index":"secret"}`, 7, 1], // the index is looked at before the event field
      [`${good} {"time":1}`, 12, 1],
      [`${good} {"event":null}`, 12, 1],
      [`${good} {"event":""}`, 13, 1],
      [`${good} {"event":" \\n\\t "}`, 13, 1],
      [`${good} {"event":"x","fields":{"a":{"b":"c"}}}`, 15, 1],
      [`${good} {"event":"x","fields":{"n":1}}`, 15, 1],
      [`${good} {"event":"x","fields":{"l":["a",["b"]]}}`, 15, 1],
      [`${good} {"event":"x","fields":["a"]}`, 15, 1],
      [`${good} ${envelope('poison')} ${good}`, 6, 1],
    ];
    for (const [body, code, at] of cases) {
      const r = await send(hec, body, auth);
      expect([r.status, r.json.code, r.json['invalid-event-number']], body.slice(0, 120)).toEqual([400, code, at]);
    }
    expect(hec.indexedCount()).toBe(0);
    expect(hec.requests().every((q) => q.events === 0)).toBe(true);
    expect(await send(hec, `${good}{"event":"é"}`, auth)).toMatchObject({ status: 200 });
  });

  it('answers 413 over maxContentLength on the wire bytes, while gzip lets an oversized event reach the per-event check', async () => {
    const hec = await fake({ maxContentLength: 1000, maxEventSize: 5000 });
    const big = `{"event":"${'z'.repeat(6000)}"}`;
    const r = await send(hec, big);
    expect(r.status).toBe(413);
    expect(hec.requests().at(-1)).toMatchObject({ status: 413, bytes: big.length });
    const zipped = gzipSync(big);
    expect(zipped.length).toBeLessThan(1000);
    expect(await send(hec, zipped, { ...onChannel, 'content-encoding': 'gzip' })).toMatchObject({ status: 400, json: { code: 6, 'invalid-event-number': 0 } });
    expect(hec.indexedCount()).toBe(0);
  });
});

describe('channels and acknowledgements (§1.5)', () => {
  it('wants a GUID channel from an ack token: code 10 without, 11 when malformed; the query form works too', async () => {
    const hec = await fake({ tokens: { [TOKEN]: { ack: true }, plain: {} } });
    expect(await send(hec, batch('a'), auth)).toMatchObject({ status: 400, json: { text: 'Data channel is missing', code: 10 } });
    expect(await send(hec, batch('a'), { ...auth, 'x-splunk-request-channel': 'not-a-guid' })).toMatchObject({ status: 400, json: { code: 11 } });
    expect(await send(hec, batch('a'), { authorization: 'Splunk plain', 'x-splunk-request-channel': '1234' })).toMatchObject({ status: 400, json: { code: 11 } });
    expect(await send(hec, batch('a'), auth, `/services/collector/event?channel=${CHANNEL}`)).toMatchObject({ status: 200, json: { ackId: 0 } });
    expect(await send(hec, batch('b'), { authorization: 'Splunk plain', 'x-splunk-request-channel': CHANNEL })).toMatchObject({ status: 200, json: { code: 0 } });
    expect(hec.indexedCount()).toBe(2);
  });

  it('numbers acks from 0 per channel and reports each true once', async () => {
    const hec = await fake();
    const other = { ...auth, 'x-splunk-request-channel': OTHER_CHANNEL };
    const ids = [await send(hec, batch('a')), await send(hec, batch('b')), await send(hec, batch('c'), other), await send(hec, batch('d'))].map((r) => r.json.ackId);
    expect(ids).toEqual([0, 1, 0, 2]);
    expect(await pollAcks(hec, [0, 2, 7])).toMatchObject({ status: 200, json: { acks: { '0': true, '2': true, '7': false } } });
    expect((await pollAcks(hec, [0, 1, 2, 0])).json).toEqual({ acks: { '0': false, '1': true, '2': false } });
    expect((await pollAcks(hec, [0], OTHER_CHANNEL)).json).toEqual({ acks: { '0': true } });
    expect((await pollAcks(hec, [0], '99999999-9999-4999-8999-999999999999')).json).toEqual({ acks: { '0': false } });
    expect(hec.eventIds()).toEqual(['a', 'b', 'c', 'd']);
    // Polling accepts the query-string channel and gzip.
    await send(hec, batch('e'));
    const zipped = await call(hec, `/services/collector/ack?channel=${CHANNEL}`, {
      headers: { ...auth, 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ acks: [3] })),
    });
    expect(zipped.json).toEqual({ acks: { '3': true } });
  });

  it('refuses ack polls from a token without ack (14), without or with a bad channel (10, 11), or with a bad body (6)', async () => {
    const hec = await fake({ tokens: { [TOKEN]: { ack: true }, plain: {} } });
    const ack = (headers: Record<string, string>, body = '{"acks":[0]}'): Promise<Reply> => call(hec, '/services/collector/ack', { headers, body });
    expect(await ack({ authorization: 'Splunk plain', 'x-splunk-request-channel': CHANNEL })).toMatchObject({ status: 400, json: { text: 'ACK is disabled', code: 14 } });
    expect(await ack({})).toMatchObject({ status: 401, json: { code: 2 } });
    expect(await ack(auth)).toMatchObject({ status: 400, json: { code: 10 } });
    expect(await ack({ ...auth, 'x-splunk-request-channel': 'nope' })).toMatchObject({ status: 400, json: { code: 11 } });
    for (const body of ['', '[0]', '{"acks":"0"}', '{"acks":[-1]}', '{"acks":[1.5]}', '{"acks":["0"]}', '{']) {
      expect(await ack(onChannel, body), body).toMatchObject({ status: 400, json: { code: 6 } });
    }
    expect((await ack(onChannel, '{"acks":[]}')).json).toEqual({ acks: {} });
  });

  it('with an ack delay, acks stay false and nothing is indexed until the delay has passed', async () => {
    const hec = await fake({ ackDelayMs: 60_000 });
    expect((await send(hec, batch('a', 'b'))).json.ackId).toBe(0);
    expect((await pollAcks(hec, [0])).json).toEqual({ acks: { '0': false } });
    expect(hec.indexedCount()).toBe(0);
    hec.setAckDelay(30);
    await expect.poll(() => hec.indexedCount(), { interval: 5 }).toBe(2);
    expect((await pollAcks(hec, [0])).json).toEqual({ acks: { '0': true } });
    hec.setAckDelay(60_000);
    await send(hec, batch('c'));
    expect(hec.eventIds()).toEqual(['a', 'b']);
    hec.setAckDelay(0);
    expect(hec.eventIds()).toEqual(['a', 'b', 'c']);
    expect((await pollAcks(hec, [1])).json).toEqual({ acks: { '1': true } });
  });

  it('dropAcks loses accepted requests: answered 200, never indexed, ack never true', async () => {
    const hec = await fake({ tokens: { [TOKEN]: { ack: true }, plain: {} } });
    hec.dropAcks(1);
    expect(await send(hec, batch('lost'))).toMatchObject({ status: 200, json: { ackId: 0 } });
    expect((await send(hec, batch('kept'))).json.ackId).toBe(1);
    for (let k = 0; k < 2; k++) expect((await pollAcks(hec, [0, 1])).json).toEqual({ acks: { '0': false, '1': k === 0 } });
    hec.dropAcks((ackId) => ackId % 2 === 0);
    await send(hec, batch('even'));
    await send(hec, batch('odd'));
    expect((await pollAcks(hec, [2, 3])).json).toEqual({ acks: { '2': false, '3': true } });
    hec.dropAcks(0);
    await send(hec, batch('after'));
    // Without ack the loss is invisible to the client.
    hec.dropAcks(1);
    expect(await send(hec, batch('silent'), { authorization: 'Splunk plain' })).toMatchObject({ status: 200, json: { code: 0 } });
    expect(hec.eventIds()).toEqual(['kept', 'odd', 'after']);
  });
});

describe('restarts and outages', () => {
  const isConnectionError = (e: unknown): boolean => {
    const code = (e as { code?: string }).code;
    return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET';
  };

  it('restart forgets channels, ack counters and pending data, keeps indexed events, and is down for downMs', async () => {
    const hec = await fake();
    await send(hec, batch('indexed'));
    hec.setAckDelay(60_000);
    expect((await send(hec, batch('pending'))).json.ackId).toBe(1);

    const began = Date.now();
    const restarted = hec.restart(150);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const during = await send(hec, batch('during')).then(
      () => 'answered',
      (e: unknown) => (isConnectionError(e) ? 'refused' : String(e)),
    );
    expect(during).toBe('refused');
    await restarted;
    expect(Date.now() - began).toBeGreaterThanOrEqual(145);

    hec.setAckDelay(0);
    expect((await pollAcks(hec, [0, 1])).json).toEqual({ acks: { '0': false, '1': false } });
    expect((await send(hec, batch('fresh'))).json.ackId).toBe(0);
    expect((await pollAcks(hec, [0])).json).toEqual({ acks: { '0': true } });
    expect(hec.eventIds()).toEqual(['indexed', 'fresh']);

    // Without downMs the socket stays up and the same connection goes on working.
    await send(hec, batch('x'));
    await hec.restart();
    expect((await send(hec, batch('y'))).json.ackId).toBe(0);
  });

  it('stop refuses connections and start listens on the same port, state kept', async () => {
    const hec = await fake({ tokens: { [TOKEN]: {} } });
    await send(hec, batch('before'), auth);
    const port = hec.port;
    await hec.stop();
    await expect(send(hec, batch('down'), auth)).rejects.toSatisfy(isConnectionError);
    await expect(send(hec, batch('down'), auth, '/services/collector')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await hec.start();
    expect(hec.port).toBe(port);
    expect((await send(hec, batch('after'), auth)).status).toBe(200);
    expect(hec.eventIds()).toEqual(['before', 'after']);
  });

  it('starts on a given port', async () => {
    const first = await fake();
    const port = first.port;
    await first.close();
    const again = await fake({ port });
    expect(again.url).toBe(`http://127.0.0.1:${port}`);
    expect((await send(again, batch('a'))).status).toBe(200);
  });
});

describe('TLS', () => {
  const ca = readFileSync(tlsFixture('ca.pem'));
  const tls = { certFile: tlsFixture('server.pem'), keyFile: tlsFixture('server.key') };

  it('serves https://localhost with a certificate chaining to ca.pem', async () => {
    const hec = await fake({ tls });
    expect(hec.url).toBe(`https://localhost:${hec.port}`);
    const trusting = new Agent({ connect: { ca } });
    try {
      expect(await call(hec, '/services/collector/event', { headers: onChannel, body: batch('a'), dispatcher: trusting })).toMatchObject({ status: 200, json: { ackId: 0 } });
    } finally {
      await trusting.close();
    }
    await expect(send(hec, batch('b'))).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(hec.eventIds()).toEqual(['a']);
  });

  it('with requestCert, wants a client certificate chaining to caFile', async () => {
    const hec = await fake({ tls: { ...tls, caFile: tlsFixture('ca.pem'), requestCert: true } });
    const withCert = new Agent({ connect: { ca, cert: readFileSync(tlsFixture('client-1.pem')), key: readFileSync(tlsFixture('client-1.key')) } });
    const withoutCert = new Agent({ connect: { ca } });
    try {
      expect((await call(hec, '/services/collector/event', { headers: onChannel, body: batch('a'), dispatcher: withCert })).status).toBe(200);
      await expect(call(hec, '/services/collector/event', { headers: onChannel, body: batch('b'), dispatcher: withoutCert })).rejects.toThrow();
    } finally {
      await Promise.all([withCert.close(), withoutCert.close()]);
    }
    expect(hec.eventIds()).toEqual(['a']);
  });
});

describe("store: 'ids'", () => {
  it('keeps ids and counts only, in index order', async () => {
    const hec = await fake({ store: 'ids', tokens: { [TOKEN]: {} } });
    const ids = Array.from({ length: 20_000 }, (_, k) => `e-${k}`);
    for (let at = 0; at < ids.length; at += 5000) {
      expect((await send(hec, gzipSync(batch(...ids.slice(at, at + 5000))), { ...auth, 'content-encoding': 'gzip' })).status).toBe(200);
    }
    await send(hec, '{"event":"no id"}', auth);
    expect(hec.indexedCount()).toBe(20_001);
    expect(hec.eventIds()).toEqual([...ids, '{"event":"no id"}']);
    expect(() => hec.events()).toThrow(/store/);
  });
});
