// Credentials sent in headers (Authorization, vendor keys) from secrets that follow their files, so a rotated token needs no restart.
import type { Secret } from '../config/types.ts';
import type { HttpAuth } from './config.ts';
import { createRotatingSecret } from './watched-files.ts';

/** A credential that cannot be sent in a header (a line break, another control character): the route cannot work until it is fixed. */
export class CredentialValueError extends Error {
  readonly code = 'ERR_CREDENTIAL_VALUE';
  /** The configuration keys to fix (`token / tokenFile`). */
  readonly keys: string;

  constructor(what: string, keys: string) {
    super(`${what} contains a control character (a line break?): fix ${keys}`);
    this.name = 'CredentialValueError';
    this.keys = keys;
  }
}

/** A vendor's own scheme with one secret: `Splunk <token>`, or a bearer token under keys of the connector's own. */
export interface SchemeAuth {
  readonly type: 'scheme';
  /** The word before the secret (`Splunk`, `Bearer`). */
  readonly scheme: string;
  readonly secret: Secret;
  /** How messages name the secret (`the HEC token`). */
  readonly what: string;
  /** The keys that set it (`token / tokenFile`). */
  readonly keys: string;
}

export interface AuthorizationHeader {
  /**
   * The `Authorization` value for the next request, re-reading secret files that changed (see
   * watched-files.ts `createRotatingSecret`: an unreadable or empty file keeps the previous value). Rejects
   * with a CredentialValueError for a value that cannot be sent, never showing it. Never log the result.
   */
  current(): Promise<string>;
}

// RFC 9110 field values: no control characters but horizontal tab.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function checked(value: string, what: string, keys: string): string {
  if (CONTROL.test(value)) throw new CredentialValueError(what, keys);
  return value;
}

/**
 * The Authorization header of an `auth` setting (config.ts `httpAuth`, under `configKey`) or of a vendor
 * scheme: `ApiKey <key>` (Elasticsearch), `Basic base64(user:password)`, `Bearer <token>`, `<scheme> <secret>`.
 */
export function createAuthorization(auth: HttpAuth | SchemeAuth, configKey = 'auth'): AuthorizationHeader {
  const keys = (key: string) => `${configKey}.${key} / ${configKey}.${key}File`;
  switch (auth.type) {
    case 'scheme': {
      const secret = createRotatingSecret(auth.secret);
      return { current: async () => `${auth.scheme} ${checked((await secret.current()) ?? '', auth.what, auth.keys)}` };
    }
    case 'apiKey': {
      const secret = createRotatingSecret(auth.apiKey);
      return { current: async () => `ApiKey ${checked((await secret.current()) ?? '', 'the API key', keys('apiKey'))}` };
    }
    case 'bearer': {
      const secret = createRotatingSecret(auth.bearer);
      return { current: async () => `Bearer ${checked((await secret.current()) ?? '', 'the bearer token', keys('bearer'))}` };
    }
    case 'basic': {
      const password = createRotatingSecret(auth.password);
      const user = auth.username;
      return {
        async current() {
          const p = checked((await password.current()) ?? '', 'the password', keys('password'));
          return `Basic ${Buffer.from(`${user}:${p}`, 'utf8').toString('base64')}`;
        },
      };
    }
  }
}

export interface SecretHeaders {
  /** The headers for the next request, files re-read when they changed. Rejects like AuthorizationHeader. Never log them. */
  current(): Promise<Record<string, string>>;
}

/** Extra headers whose values are secrets (config.ts `httpOptions`: `headers` / `headerFiles` under `configKey`). */
export function createSecretHeaders(headers: Readonly<Record<string, Secret>>, configKey = 'http'): SecretHeaders {
  const entries = Object.entries(headers).map(([name, secret]) => [name, createRotatingSecret(secret)] as const);
  return {
    async current() {
      const out: Record<string, string> = {};
      for (const [name, secret] of entries) {
        out[name] = checked((await secret.current()) ?? '', `the value of header ${name}`, `${configKey}.headers.${name} / ${configKey}.headerFiles.${name}`);
      }
      return out;
    },
  };
}
