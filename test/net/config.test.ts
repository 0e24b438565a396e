// The shared `tls`, `auth` and `http` configuration fragments: each kind of credentials, the messages a user sees, and secrets never printed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatConfigIssues, fromZodIssues } from '../../src/config/errors.ts';
import { Secret } from '../../src/config/types.ts';
import { createAuthorization, createSecretHeaders, CredentialValueError } from '../../src/net/auth.ts';
import { httpAuth, httpOptions, tlsOptions, type HttpAuth } from '../../src/net/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'af-net-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sinkSchema = z.strictObject({ auth: httpAuth().optional(), http: httpOptions({ timeoutMs: 10_000 }), tls: tlsOptions() });

/** The messages the loader would print, or the parsed value. */
function parse(input: unknown): { ok: true; value: z.output<typeof sinkSchema> } | { ok: false; lines: string[] } {
  const r = sinkSchema.safeParse(input, { reportInput: true });
  return r.success ? { ok: true, value: r.data } : { ok: false, lines: formatConfigIssues(fromZodIssues(r.error.issues, sinkSchema)) };
}

function value(input: unknown): z.output<typeof sinkSchema> {
  const r = parse(input);
  if (!r.ok) throw new Error(r.lines.join('\n'));
  return r.value;
}

function lines(input: unknown): string[] {
  const r = parse(input);
  if (r.ok) throw new Error('expected errors');
  return r.lines;
}

const secretFile = (name: string, content: string): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('auth', () => {
  it('apiKey → ApiKey, from the value or from a file', async () => {
    const inline = value({ auth: { apiKey: 'key-123' } }).auth as HttpAuth;
    expect(inline.type).toBe('apiKey');
    expect(await createAuthorization(inline).current()).toBe('ApiKey key-123');
    const fromFile = value({ auth: { apiKeyFile: secretFile('api-key', 'key-from-file\n') } }).auth as HttpAuth;
    expect(await createAuthorization(fromFile).current()).toBe('ApiKey key-from-file');
  });

  it('username and password → Basic (RFC 7617)', async () => {
    const auth = value({ auth: { username: 'forwarder', password: 'pa:ss wörd' } }).auth as HttpAuth;
    expect(auth).toMatchObject({ type: 'basic', username: 'forwarder' });
    expect(await createAuthorization(auth).current()).toBe(`Basic ${Buffer.from('forwarder:pa:ss wörd').toString('base64')}`);
    const fromFile = value({ auth: { username: 'forwarder', passwordFile: secretFile('password', 'from-file\r\n') } }).auth as HttpAuth;
    expect(await createAuthorization(fromFile).current()).toBe(`Basic ${Buffer.from('forwarder:from-file').toString('base64')}`);
  });

  it('bearer → Bearer', async () => {
    const auth = value({ auth: { bearerFile: secretFile('bearer', 'tok-1\n') } }).auth as HttpAuth;
    expect(auth.type).toBe('bearer');
    expect(await createAuthorization(auth).current()).toBe('Bearer tok-1');
  });

  it('no auth key at all is allowed where the sink makes it optional', () => {
    expect(value({}).auth).toBeUndefined();
  });

  it('says what is wrong, naming the keys', () => {
    expect(lines({ auth: {} })).toEqual(['auth: missing key (set apiKey / apiKeyFile, username with password / passwordFile, or bearer / bearerFile)']);
    expect(lines({ auth: { apiKey: 'a', bearer: 'b' } })).toEqual([
      'auth: set one kind of credentials (apiKey / apiKeyFile, username with password / passwordFile, or bearer / bearerFile), not apiKey and bearer',
    ]);
    expect(lines({ auth: { username: 'u' } })).toEqual(['auth.password: missing key (set password or passwordFile, since username is set)']);
    expect(lines({ auth: { password: 'p' } })).toEqual(['auth.username: missing key (expected a user name, since a password is set)']);
    expect(lines({ auth: { username: 'a:b', password: 'p' } })).toEqual(['auth.username: expected a user name without ":" (RFC 7617: the password follows the first ":")']);
    expect(lines({ auth: { apiKey: 'a', apiKeyFile: secretFile('k2', 'b') } })).toEqual(['auth.apiKey: set either apiKey or apiKeyFile, not both']);
    expect(lines({ auth: { apikey: 'a' } })).toContain('auth.apikey: unknown key (expected one of: username, apiKey, apiKeyFile, password, passwordFile, bearer, bearerFile)');
  });

  it('never prints a secret: JSON, String, inspect and error messages show [redacted]', () => {
    for (const auth of [{ apiKey: 'very-secret-1' }, { username: 'u', password: 'very-secret-1' }, { bearer: 'very-secret-1' }]) {
      const config = value({ auth });
      expect(JSON.stringify(config)).not.toContain('very-secret-1');
      expect(JSON.stringify(config)).toContain('[redacted]');
      expect(inspect(config, { depth: 10 })).not.toContain('very-secret-1');
      expect(String(Object.values(config.auth as object).find((v) => v instanceof Secret))).toBe('[redacted]');
    }
    expect(lines({ auth: { apiKey: 42 } }).join('\n')).not.toContain('42');
  });

  it('a credential with a line break is refused when sent, without showing it', async () => {
    const auth = value({ auth: { bearerFile: secretFile('two-lines', 'line-one\nline-two\n') } }).auth as HttpAuth;
    const e = await createAuthorization(auth).current().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CredentialValueError);
    expect((e as Error).message).toBe('the bearer token contains a control character (a line break?): fix auth.bearer / auth.bearerFile');
    expect((e as Error).message).not.toContain('line-one');
  });

  it('a vendor scheme (Splunk) names its own keys', async () => {
    const header = createAuthorization({ type: 'scheme', scheme: 'Splunk', secret: new Secret('tok\r'), what: 'the HEC token', keys: 'token / tokenFile' });
    await expect(header.current()).rejects.toThrow('the HEC token contains a control character (a line break?): fix token / tokenFile');
  });
});

describe('http', () => {
  it('defaults, and the sink’s own defaults', () => {
    const http = value({}).http;
    expect(http).toEqual({ timeout: 10_000, concurrency: 4, gzip: false, headers: {} });
    expect(value({ http: { timeout: '2s', concurrency: 8, gzip: true } }).http).toMatchObject({ timeout: 2_000, concurrency: 8, gzip: true });
  });

  it('extra headers: inline (${ENV}) and from files, merged; every value a secret', async () => {
    const http = value({ http: { headers: { 'DD-API-KEY': 'dd-secret-1', 'X-Scope-OrgID': 'tenant-1' }, headerFiles: { 'X-Key': secretFile('x-key', 'file-secret\n') } } }).http;
    expect(Object.keys(http.headers)).toEqual(['DD-API-KEY', 'X-Scope-OrgID', 'X-Key']);
    expect(JSON.stringify(http)).not.toContain('dd-secret-1');
    expect(await createSecretHeaders(http.headers).current()).toEqual({ 'DD-API-KEY': 'dd-secret-1', 'X-Scope-OrgID': 'tenant-1', 'X-Key': 'file-secret' });
  });

  it('refuses header names that are not names, set by the client, or set twice', () => {
    expect(lines({ http: { headers: { 'Bad Name': 'x' } } })).toEqual([`http.headers."Bad Name": expected a header name (letters, digits and !#$%&'*+-.^_\`|~), got "Bad Name"`]);
    expect(lines({ http: { headers: { Authorization: 'x' } } })).toEqual(['http.headers.Authorization: Authorization cannot be set here (set the credentials with auth)']);
    expect(lines({ http: { headers: { 'content-type': 'x' } } })).toEqual(['http.headers.content-type: content-type cannot be set here (set by the sink)']);
    expect(lines({ http: { headers: { 'X-Key': 'a' }, headerFiles: { 'x-key': secretFile('dup', 'b') } } })).toEqual([
      'http.headerFiles.x-key: header x-key is set twice (headers.X-Key and headerFiles.x-key): set it once',
    ]);
    expect(lines({ http: { timeout: '1h' } })).toEqual(['http.timeout: expected a duration from 100ms to 10m, got "1h"']);
  });
});

describe('tls', () => {
  it('paths, serverName, and certFile with keyFile', () => {
    expect(value({ tls: { caFile: '/etc/ca.pem', serverName: 'splunk.example.com' } }).tls).toEqual({ caFile: '/etc/ca.pem', serverName: 'splunk.example.com' });
    expect(lines({ tls: { certFile: '/etc/c.pem' } })).toEqual(['tls: certFile and keyFile go together']);
    expect(lines({ tls: { cafile: '/etc/ca.pem' } })).toEqual(['tls.cafile: unknown key (expected one of: caFile, certFile, keyFile, serverName)']);
  });
});
