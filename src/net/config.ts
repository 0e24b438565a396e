// Configuration fragments of network connectors: `tls`, `auth` and `http` (timeout, concurrency, gzip, extra headers with secret values).
import { z } from 'zod';
import { duration, filePath, integer, nonEmptyString, reportIssue, secretFile, secretValue, withSecret, type Secret } from '../config/types.ts';

// ---- tls ----

export const CERT_AND_KEY_TOGETHER = 'certFile and keyFile go together';

/**
 * The fields of a `tls` object, each a builder, to compose a connector's own with `tlsObject` (the Connect
 * source adds `serverSpiffeId` and has no `serverName`). Paths resolve against the configuration file's
 * directory; the files are re-read when they change (tls.ts).
 */
export const tlsFields = {
  /** PEM bundle of the CAs the server certificate must chain to; default: Node.js's built-in CA list. */
  caFile: () => filePath().optional(),
  /** Client certificate (PEM, the chain) when the server requires one; with `keyFile`. */
  certFile: () => filePath().optional(),
  /** Key of the client certificate (PEM); with `certFile`. */
  keyFile: () => filePath().optional(),
  /** Name the server certificate must carry (and SNI), when it is not the URL's host. */
  serverName: () => nonEmptyString('a host name').optional(),
  /** The server's expected SPIFFE ID (URI SAN): it then authorises the server instead of its name. */
  serverSpiffeId: (example = 'spiffe://example.org/connect') =>
    nonEmptyString(`a SPIFFE ID such as ${example}`)
      .refine((s) => s.startsWith('spiffe://'), { message: 'expected a SPIFFE ID starting with spiffe://' })
      .optional(),
};

type CertAndKey = { readonly certFile?: unknown; readonly keyFile?: unknown };

/** A connector's `tls` object from `tlsFields`: strict (a misspelt key is an error), `{}` when absent, certFile and keyFile together. */
export function tlsObject<S extends z.ZodRawShape>(shape: S) {
  return z
    .strictObject(shape)
    .prefault({} as never)
    .refine((t) => ((t as CertAndKey).certFile === undefined) === ((t as CertAndKey).keyFile === undefined), { message: CERT_AND_KEY_TOGETHER });
}

/** The `tls` key of an HTTP sink: `caFile`, `certFile` + `keyFile`, `serverName`. Verification is always on. */
export function tlsOptions() {
  return tlsObject({ caFile: tlsFields.caFile(), certFile: tlsFields.certFile(), keyFile: tlsFields.keyFile(), serverName: tlsFields.serverName() });
}

export type TlsOptions = z.output<ReturnType<typeof tlsOptions>>;

// ---- auth ----

/** The credentials of an `auth` key, one kind of them (auth.ts `createAuthorization` makes the header). */
export type HttpAuth =
  /** `Authorization: ApiKey <apiKey>` (Elasticsearch API keys: the base64 `encoded` form). */
  | { readonly type: 'apiKey'; readonly apiKey: Secret }
  /** `Authorization: Basic base64(username:password)` (RFC 7617). */
  | { readonly type: 'basic'; readonly username: string; readonly password: Secret }
  /** `Authorization: Bearer <bearer>` (RFC 6750). */
  | { readonly type: 'bearer'; readonly bearer: Secret };

const AUTH_KINDS = 'apiKey / apiKeyFile, username with password / passwordFile, or bearer / bearerFile';

/**
 * The `auth` key of an HTTP sink (make it `.optional()` where credentials are optional): exactly one of
 * `{ apiKey | apiKeyFile }`, `{ username, password | passwordFile }`, `{ bearer | bearerFile }`. Secrets come
 * inline (`${ENV}`) or from a file read at load time and re-read when it changes; they print `[redacted]`.
 */
export function httpAuth(): z.ZodType<HttpAuth> {
  return withSecret({ username: nonEmptyString('a user name').optional() }, ['apiKey', 'password', 'bearer'], { optional: true })
    .superRefine((a, ctx) => {
      const kinds = [
        a.apiKey !== undefined ? 'apiKey' : undefined,
        a.username !== undefined || a.password !== undefined ? 'username/password' : undefined,
        a.bearer !== undefined ? 'bearer' : undefined,
      ].filter((k) => k !== undefined);
      if (kinds.length === 0) reportIssue(ctx, { text: `missing key (set ${AUTH_KINDS})` }, undefined);
      else if (kinds.length > 1) reportIssue(ctx, { text: `set one kind of credentials (${AUTH_KINDS}), not ${kinds.join(' and ')}` }, undefined);
      else if (a.username !== undefined && a.password === undefined) reportIssue(ctx, { text: 'missing key (set password or passwordFile, since username is set)' }, undefined, ['password']);
      else if (a.username === undefined && a.password !== undefined) reportIssue(ctx, { text: 'missing key (expected a user name, since a password is set)' }, undefined, ['username']);
      else if (a.username?.includes(':') === true) reportIssue(ctx, { text: 'expected a user name without ":" (RFC 7617: the password follows the first ":")' }, undefined, ['username']);
    })
    .transform((a): HttpAuth => {
      if (a.apiKey !== undefined) return { type: 'apiKey', apiKey: a.apiKey };
      if (a.bearer !== undefined) return { type: 'bearer', bearer: a.bearer };
      return { type: 'basic', username: a.username as string, password: a.password as Secret };
    });
}

// ---- http ----

export interface HttpDefaults {
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly gzip: boolean;
}

export const HTTP_DEFAULTS: HttpDefaults = Object.freeze({ timeoutMs: 30_000, concurrency: 4, gzip: false });

/** Time allowed for one request's response (its headers, then each part of its body). */
export const requestTimeout = (defaultMs: number = HTTP_DEFAULTS.timeoutMs) => duration({ min: 100, max: 600_000 }).default(defaultMs);
/** Connections to the server, i.e. requests at once. */
export const concurrency = (dflt: number = HTTP_DEFAULTS.concurrency) => integer({ min: 1, max: 64 }).default(dflt);
/** Compress request bodies with gzip. */
export const gzipOption = (dflt: boolean = HTTP_DEFAULTS.gzip) => z.boolean().default(dflt);

/** A header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers the client sets itself, or that frame the message: not configurable. */
const RESERVED_HEADERS: Readonly<Record<string, string>> = {
  authorization: 'set the credentials with auth',
  host: 'set by the client from url',
  'content-type': 'set by the sink',
  'content-encoding': 'set by the client (gzip)',
  'content-length': 'set by the client',
  'transfer-encoding': 'set by the client',
  connection: 'set by the client',
  'keep-alive': 'set by the client',
  upgrade: 'set by the client',
  te: 'set by the client',
  trailer: 'set by the client',
  expect: 'set by the client',
};

/**
 * The `http` key of an HTTP sink: `timeout`, `concurrency`, `gzip`, and extra headers for vendor keys
 * (`DD-API-KEY`): `headers` (inline values, usually `${ENV}`) and `headerFiles` (a file per header, re-read
 * when it changes). Every header value is a secret (prints `[redacted]`). The output merges both into
 * `headers`.
 */
export function httpOptions(defaults: Partial<HttpDefaults> = {}) {
  const d = { ...HTTP_DEFAULTS, ...defaults };
  return z
    .strictObject({
      timeout: requestTimeout(d.timeoutMs),
      concurrency: concurrency(d.concurrency),
      gzip: gzipOption(d.gzip),
      headers: z.record(z.string(), secretValue('headers')).optional(),
      headerFiles: z.record(z.string(), secretFile('headerFiles')).optional(),
    })
    .prefault({})
    .superRefine((h, ctx) => {
      const seen = new Map<string, string>();
      for (const [key, names] of [['headers', Object.keys(h.headers ?? {})], ['headerFiles', Object.keys(h.headerFiles ?? {})]] as const) {
        for (const name of names) {
          const lower = name.toLowerCase();
          if (!HEADER_NAME.test(name)) reportIssue(ctx, { text: `expected a header name (letters, digits and !#$%&'*+-.^_\`|~), got ${JSON.stringify(name)}` }, undefined, [key, name]);
          else if (RESERVED_HEADERS[lower] !== undefined) reportIssue(ctx, { text: `${name} cannot be set here (${RESERVED_HEADERS[lower]})` }, undefined, [key, name]);
          else if (seen.has(lower)) reportIssue(ctx, { text: `header ${name} is set twice (${seen.get(lower)} and ${key}.${name}): set it once` }, undefined, [key, name]);
          seen.set(lower, `${key}.${name}`);
        }
      }
    })
    .transform(({ headers, headerFiles, ...rest }) => ({ ...rest, headers: { ...headers, ...headerFiles } as Readonly<Record<string, Secret>> }));
}

export type HttpOptions = z.output<ReturnType<typeof httpOptions>>;
