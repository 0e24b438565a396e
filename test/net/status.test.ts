// The default HTTP status table: every row, Retry-After, and the wording of the outcome.
import { describe, expect, it } from 'vitest';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import { HTTP_STATUS_TABLE, statusOutcome, statusRule, type StatusAction, type StatusRule } from '../../src/net/status.ts';

const NOW = Date.parse('2026-05-12T10:00:00Z');

/** A status the row decides: itself, or the first of its range no earlier row takes. */
function statusOf(rule: StatusRule): number {
  if (typeof rule.status === 'number') return rule.status;
  for (let s = rule.status[0]; s <= rule.status[1]; s++) if (statusRule(s) === rule) return s;
  throw new Error(`row ${JSON.stringify(rule.status)} decides no status`);
}

const expected: Record<StatusAction, (o: SendOutcome) => void> = {
  accepted: (o) => expect(o).toEqual({ status: 'delivered' }),
  retry: (o) => expect(o).toMatchObject({ status: 'retryable' }),
  split: (o) => expect(o).toMatchObject({ status: 'rejected', scope: 'batch' }),
  credentials: (o) => expect(o).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringContaining('check `auth`') }),
  route: (o) => expect(o).toMatchObject({ status: 'rejected', scope: 'sink' }),
};

describe('HTTP_STATUS_TABLE', () => {
  it.each(HTTP_STATUS_TABLE.map((r) => [JSON.stringify(r.status), r.action, r] as const))('%s → %s', (_s, action, rule) => {
    const status = statusOf(rule);
    expect(statusRule(status)).toBe(rule);
    expected[action](statusOutcome({ status }, NOW));
  });

  it('retries 408, 429, 500, 502, 503, 504 and other 5xx but 501; splits on 413; stops the route on 401, 403 and other 4xx', () => {
    const action = (s: number) => statusRule(s).action;
    expect([408, 429, 500, 502, 503, 504, 507].map(action)).toEqual(Array(7).fill('retry'));
    expect(action(501)).toBe('route');
    expect(action(413)).toBe('split');
    expect([401, 403].map(action)).toEqual(['credentials', 'credentials']);
    expect([400, 404, 409, 415, 422].map(action)).toEqual(Array(5).fill('route'));
    expect([200, 201, 204, 299].map(action)).toEqual(Array(4).fill('accepted'));
    expect([301, 308, 101, 0, 999].map(action)).toEqual(Array(5).fill('route'));
  });
});

describe('statusOutcome', () => {
  it('honours Retry-After in seconds and as an HTTP date', () => {
    expect(statusOutcome({ status: 503, retryAfter: '7' }, NOW)).toEqual({
      status: 'retryable',
      reason: 'HTTP 503 Service Unavailable (the server is unavailable or overloaded)',
      retryAfterMs: 7_000,
      kind: 'status',
    });
    expect(statusOutcome({ status: 429, retryAfter: 'Tue, 12 May 2026 10:01:30 GMT' }, NOW)).toMatchObject({ status: 'retryable', retryAfterMs: 90_000, kind: 'throttled' });
    expect(statusOutcome({ status: 500, retryAfter: 'soon' }, NOW)).not.toHaveProperty('retryAfterMs');
  });

  it('words the reason with the destination, its detail and the hint, naming the sink’s keys', () => {
    expect(statusOutcome({ status: 401 }, NOW, { what: 'Elasticsearch', detail: 'security_exception', keys: { auth: 'auth.apiKey' } })).toEqual({
      status: 'rejected',
      scope: 'sink',
      reason: 'Elasticsearch 401 Unauthorized (the credentials are missing or refused): security_exception: check `auth.apiKey`',
    });
    expect(statusOutcome({ status: 413 }, NOW)).toEqual({ status: 'rejected', scope: 'batch', reason: 'HTTP 413 Payload Too Large (the request is larger than the server accepts)' });
  });

  it('says where a redirect points', () => {
    expect(statusOutcome({ status: 301, location: 'https://logs.example.com/' }, NOW)).toEqual({
      status: 'rejected',
      scope: 'sink',
      reason: 'HTTP 301 Moved Permanently (the server redirects elsewhere to https://logs.example.com/): set `url` to where it points (Location)',
    });
  });
});
