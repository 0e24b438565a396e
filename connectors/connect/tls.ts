// Credentials of the Connect API client: TLS options from CA/SVID files re-read on rotation, and the SPIFFE ID check.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { SecureClientSessionOptions } from 'node:http2';
import { checkServerIdentity, createSecureContext, type PeerCertificate } from 'node:tls';
import { watchFiles, type FileSnapshot } from '../../src/config/watched-files.ts';

// ---- SPIFFE ----

/** The server certificate does not carry the expected SPIFFE ID: not the server this client must talk to. */
export class SpiffeIdMismatchError extends Error {
  readonly code = 'ERR_SPIFFE_ID_MISMATCH';
  readonly expected: string;
  readonly actual: readonly string[];

  constructor(expected: string, actual: readonly string[]) {
    super(
      actual.length === 0
        ? `the server certificate has no SPIFFE ID (URI SAN); expected ${expected}`
        : `the server certificate's SPIFFE ID is ${actual.join(', ')}; expected ${expected}`,
    );
    this.name = 'SpiffeIdMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * The URI SANs of a certificate, from Node's `subjectaltname` string (`URI:spiffe://…, DNS:…`). Node quotes
 * a value as a JSON string when it holds characters that would make the list ambiguous.
 */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined || subjectAltName === '') return [];
  const out: string[] = [];
  const entry = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (const m of subjectAltName.matchAll(entry)) {
    if (m[1] !== 'URI') continue;
    const raw = m[2] as string;
    out.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return out;
}

/**
 * `checkServerIdentity` for SPIFFE: the server is authorised by its SPIFFE ID (its only URI SAN), as SPIFFE
 * clients do (go-spiffe `tlsconfig.AuthorizeID`); DNS names are not what identifies a workload, so the host
 * name is not checked. The chain is still verified against the CA bundle by Node before this runs.
 */
export function spiffeIdCheck(expected: string): (hostname: string, cert: PeerCertificate) => Error | undefined {
  return (_hostname, cert) => {
    const ids = uriSans(cert.subjectaltname).filter((u) => u.startsWith('spiffe://'));
    return ids.length === 1 && ids[0] === expected ? undefined : new SpiffeIdMismatchError(expected, ids);
  };
}

// ---- TLS options ----

export interface ClientTlsSettings {
  /** PEM bundle of CAs the server must chain to; default: Node's system CAs. */
  readonly caFile?: string;
  /** Client SVID (PEM certificate chain) and its key; both or neither. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** When set, the server is authorised by this SPIFFE ID instead of by host name. */
  readonly serverSpiffeId?: string;
  /** Host name to send as SNI and to verify (when no SPIFFE ID is expected) instead of the URL's host. */
  readonly serverName?: string;
}

export interface ClientTlsState {
  /** Options for `http2.connect`. Verification is always on (`rejectUnauthorized` is never false). */
  readonly options: SecureClientSessionOptions;
  /** Increases each time the files changed: a new generation needs a new connection. */
  readonly generation: number;
  /** Serial number (hex, as Node prints it) of the client certificate in use, if any. */
  readonly clientSerial: string | undefined;
}

export interface ClientTls {
  /**
   * The TLS options for the next call, re-reading the files first if they changed. When rewritten files do
   * not make a usable pair (a key that does not match the certificate: the sidecar is half-way through a
   * rotation), the previous state is kept and the files are read again on the next call; with no previous
   * state the error is thrown.
   */
  current(): Promise<ClientTlsState>;
}

/** Hex serial of the first certificate of a PEM chain, as Node prints it (`1001`); for log lines and tests. */
function firstSerial(pem: Buffer): string | undefined {
  try {
    return new X509Certificate(pem).serialNumber;
  } catch {
    return undefined;
  }
}

export interface ClientTlsEvents {
  /** The files changed and a new state is in use. */
  readonly changed?: (state: ClientTlsState) => void;
  /** The files changed (or became unreadable) but could not be used; the previous state stays in use. */
  readonly keptPrevious?: (reason: string) => void;
}

export function createClientTls(settings: ClientTlsSettings, events: ClientTlsEvents = {}): ClientTls {
  const paths = [settings.caFile, settings.certFile, settings.keyFile].filter((p): p is string => p !== undefined);
  const files = watchFiles(paths);
  let state: ClientTlsState | undefined;
  let generation = 0;

  const base: SecureClientSessionOptions = {
    rejectUnauthorized: true,
    ...(settings.serverName !== undefined && isIP(settings.serverName) === 0 ? { servername: settings.serverName } : {}),
    ...(settings.serverSpiffeId !== undefined
      ? { checkServerIdentity: spiffeIdCheck(settings.serverSpiffeId) }
      : settings.serverName !== undefined
        ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(settings.serverName as string, cert) }
        : {}),
  };

  function build(contents: readonly Buffer[]): ClientTlsState {
    let i = 0;
    const ca = settings.caFile !== undefined ? contents[i++] : undefined;
    const cert = settings.certFile !== undefined ? contents[i++] : undefined;
    const key = settings.keyFile !== undefined ? contents[i++] : undefined;
    // Throws on a key that does not match the certificate, or on PEM that does not parse.
    const secureContext = createSecureContext({ ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined && key !== undefined ? { cert, key } : {}) });
    generation += 1;
    return {
      options: { ...base, secureContext },
      generation,
      clientSerial: cert === undefined ? undefined : firstSerial(cert),
    };
  }

  return {
    async current() {
      if (paths.length === 0) {
        state ??= { options: base, generation: 0, clientSerial: undefined };
        return state;
      }
      let snapshot: FileSnapshot | undefined;
      try {
        snapshot = await files.changed();
      } catch (e) {
        if (state === undefined) throw e;
        events.keptPrevious?.(`cannot read a TLS file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        return state;
      }
      if (snapshot === undefined) return state as ClientTlsState;
      let next: ClientTlsState;
      try {
        next = build(snapshot.contents);
      } catch (e) {
        if (state === undefined) throw e;
        events.keptPrevious?.(`the TLS files do not make a usable certificate and key (${(e as Error).message})`);
        return state;
      }
      snapshot.accept();
      state = next;
      events.changed?.(next);
      return next;
    },
  };
}

// ---- bearer token ----
