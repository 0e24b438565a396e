// The `connect` source's configuration: defaults, the transport's settings required, and clear errors.
import { describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/index.ts';
import { mappingNames } from '../../mappings/index.ts';
import { ConfigInvalidError } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/loader.ts';
import { Secret } from '../../src/config/types.ts';

const deps = { registry: connectors, mappingNames, env: { CONNECT_DB: 'postgres://u:hunter2@db:5432/connect', TOKEN: 's3cr3t' } };
const config = (source: string) => `sources:
  c:
${source.replace(/^/gm, '    ')}
sinks: { out: { type: discard } }
routes: { r: { from: c, to: [out], enabledEvents: [trust_zone_creation] } }
`;
const errorsOf = (yaml: string): readonly string[] => {
  try {
    parseConfig(yaml, '/etc/af/config.yaml', deps);
  } catch (e) {
    if (e instanceof ConfigInvalidError) return e.errors;
    throw e;
  }
  return [];
};

describe('sources.*: type connect', () => {
  it('takes the documented defaults, and an explicit event list (Connect events have types)', () => {
    const c = parseConfig(config('type: connect\napi: { url: "https://connect.example.org:8443", token: "${TOKEN}" }'), '/etc/af/config.yaml', deps);
    const s = c.sources.c as unknown as Record<string, unknown> & { api: { token: Secret; protocol: string; pageSize: number; deadline: number } };
    expect(s).toMatchObject({ type: 'connect', transport: 'api', pollInterval: 5000, settleDelay: 10_000, lookback: 300_000, replayChunk: 3_600_000 });
    expect(s.api).toMatchObject({ protocol: 'grpc', pageSize: 1000, deadline: 30_000 });
    expect(s.api.token.reveal()).toBe('s3cr3t');
    expect(JSON.stringify(c)).not.toContain('s3cr3t');
    expect(c.routes.r!.enabledEvents).toEqual(['trust_zone_creation']);
  });

  it('reads the PostgreSQL transport with its default layout, the connection string a secret', () => {
    const c = parseConfig(config('type: connect\ntransport: postgres\npostgres: { connectionString: "${CONNECT_DB}", listenChannel: audit }'), '/etc/af/config.yaml', deps);
    const s = c.sources.c as unknown as { postgres: { connectionString: Secret; table: string; columns: Record<string, string> } };
    expect(s.postgres.table).toBe('audit_events');
    expect(s.postgres.columns).toMatchObject({ occurredAt: 'occurred_at', sourceIp: 'source_ip', serverVersion: 'server_version' });
    expect(s.postgres.connectionString.reveal()).toContain('hunter2');
    expect(JSON.stringify(c)).not.toContain('hunter2');
  });

  it('names the key and what was expected, all at once, never echoing a secret', () => {
    const errors = errorsOf(
      config(`type: connect
transport: postgres
api: { url: "connect:8443", tls: { certFile: /svid.pem, serverSpiffeId: "example.org/connect" }, pageSize: 5000, token: "\${TOKEN}", tokenFile: /t }
settleDelay: soon`),
    );
    const text = errors.join('\n');
    expect(text).toContain('sources.c.postgres: missing key (expected the postgres settings, since transport is postgres)');
    expect(text).toContain('sources.c.api.url: expected an https:// or http:// URL, got "connect:8443"');
    expect(text).toMatch(/sources\.c\.api\.tls.*certFile and keyFile go together/);
    expect(text).toMatch(/sources\.c\.api\.tls\.serverSpiffeId: .*spiffe:\/\//);
    expect(text).toMatch(/sources\.c\.api\.pageSize: .*1000/);
    expect(text).toMatch(/sources\.c\.api.*token.*tokenFile/);
    expect(text).toMatch(/sources\.c\.settleDelay: expected a duration/);
    expect(text).not.toContain('s3cr3t');
  });
});
