// TLS client material of every connector: CA and client certificate files re-read when they change, as options for undici and node:tls/http2.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, createSecureContext, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { spiffeIdCheck } from './spiffe.ts';
import { watchFiles, type FileSnapshot } from './watched-files.ts';

/** What a connector's `tls` configuration says (see config.ts `tlsOptions`). Paths are absolute. */
export interface TlsSettings {
  /** PEM bundle of the CAs the server certificate must chain to; default: Node.js's built-in CA list. */
  readonly caFile?: string | undefined;
  /** Client certificate (PEM, chain) and its key (PEM): both or neither. */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  /** Name to send as SNI and to verify the certificate against, instead of the URL's host. */
  readonly serverName?: string | undefined;
  /** When set, the server is authorised by this SPIFFE ID (its only URI SAN) instead of by name. */
  readonly serverSpiffeId?: string | undefined;
  /** The configuration key these settings sit under, for messages (`tls`, `api.tls`). Default `tls`. */
  readonly configKey?: string | undefined;
}

/**
 * Options for undici's `connect`, for `tls.connect` and for `http2.connect` alike: a secure context holding
 * the CA bundle and the client certificate, the SNI name, the identity check. Verification is always on.
 */
export type TlsConnectOptions = Pick<ConnectionOptions, 'secureContext' | 'servername' | 'checkServerIdentity'> & { readonly rejectUnauthorized: true };

export interface TlsState {
  /**
   * 0 when no file is configured; then 1, 2, … each time changed files were taken into use. A connection
   * opened with an older generation should be replaced (let it finish what it has).
   */
  readonly generation: number;
  readonly options: TlsConnectOptions;
  /** Serial number (hex, as Node prints it) of the client certificate in use, if any; for logs. */
  readonly clientSerial: string | undefined;
}

/** Why TLS files cannot be used. */
export type TlsFileProblem =
  /** A file does not exist (removed, or its volume is not mounted). */
  | 'missing'
  /** A file exists but cannot be read (permissions, a directory …). */
  | 'unreadable'
  /** Read, but not PEM that makes a CA bundle, or a certificate and a key that do not match. */
  | 'unusable';

/** TLS files that cannot be used; the message names the configuration key and the file, never the content. */
export class TlsFileError extends Error {
  readonly code = 'ERR_TLS_FILE';
  readonly problem: TlsFileProblem;
  /** The configuration keys concerned (`tls.caFile`; `tls.certFile` and `tls.keyFile` for a pair). */
  readonly keys: readonly string[];

  constructor(problem: TlsFileProblem, keys: readonly string[], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TlsFileError';
    this.problem = problem;
    this.keys = keys;
  }
}

export interface TlsEvents {
  /** Changed files were taken into use (also the first time, with generation 1). */
  readonly changed?: (state: TlsState) => void;
  /**
   * Files changed (or became unreadable) but cannot be used; the previous state stays in use. Called once per
   * distinct problem, not on every `current()`.
   */
  readonly keptPrevious?: (problem: TlsFileError) => void;
}

export interface TlsMaterial {
  readonly settings: TlsSettings;
  /**
   * The TLS state for the next connection. Rules:
   * - The files are checked (`stat`) on every call and read only when they changed (see watched-files.ts).
   * - Files that cannot be used — a certificate and a key that do not match (a sidecar half-way through a
   *   rotation), PEM that does not parse (a file being written), a file that cannot be read — keep the
   *   previous state in use, and are read again on the next call.
   * - A file that no longer exists rejects (`TlsFileError`, problem `missing`) even with a previous state:
   *   rotations replace files, they do not remove them, so a removed file is a configuration change that
   *   must be seen; calls fail until it is back.
   * - With no previous state, any of these rejects with a `TlsFileError` naming the key and the file.
   */
  current(): Promise<TlsState>;
}

/** The PEM certificates of a bundle; throws when there is none or one does not parse. */
function certificatesOf(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate in it');
  return blocks.map((b) => new X509Certificate(b));
}

export function createTlsMaterial(settings: TlsSettings, events: TlsEvents = {}): TlsMaterial {
  const prefix = settings.configKey ?? 'tls';
  const fileKeys = (['caFile', 'certFile', 'keyFile'] as const).filter((k) => settings[k] !== undefined);
  const paths = fileKeys.map((k) => settings[k] as string);
  const files = paths.length === 0 ? undefined : watchFiles(paths);
  const serverName = settings.serverName;
  let state: TlsState | undefined;
  let generation = 0;
  let reported: string | undefined;

  const base: TlsConnectOptions = {
    rejectUnauthorized: true,
    // SNI carries host names only (RFC 6066): an IP address is verified but not sent.
    ...(serverName !== undefined && isIP(serverName) === 0 ? { servername: serverName } : {}),
    ...(settings.serverSpiffeId !== undefined
      ? { checkServerIdentity: spiffeIdCheck(settings.serverSpiffeId) }
      : serverName !== undefined
        ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(serverName, cert) }
        : {}),
  };

  function readError(e: unknown): TlsFileError {
    const error = e as NodeJS.ErrnoException;
    const key = fileKeys.find((k) => settings[k] === error.path);
    const what = key === undefined ? `a ${prefix} file` : `${prefix}.${key}`;
    const missing = error.code === 'ENOENT' || error.code === 'ENOTDIR';
    return new TlsFileError(
      missing ? 'missing' : 'unreadable',
      key === undefined ? fileKeys.map((k) => `${prefix}.${k}`) : [`${prefix}.${key}`],
      `cannot read ${what}${error.path === undefined ? '' : ` ${error.path}`}: ${error.code ?? error.message}`,
      e,
    );
  }

  function build(contents: readonly Buffer[]): TlsState {
    const of = (k: (typeof fileKeys)[number]) => contents[fileKeys.indexOf(k)];
    const ca = of('caFile');
    const cert = of('certFile');
    const key = of('keyFile');
    if (ca !== undefined) {
      try {
        certificatesOf(ca);
      } catch (e) {
        throw new TlsFileError('unusable', [`${prefix}.caFile`], `${prefix}.caFile ${settings.caFile} is not a PEM CA bundle (${(e as Error).message})`, e);
      }
    }
    let clientSerial: string | undefined;
    let secureContext;
    try {
      if (cert !== undefined) clientSerial = certificatesOf(cert)[0]?.serialNumber;
      // Throws on a key that does not match the certificate, or on PEM that does not parse.
      secureContext = createSecureContext({ ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined && key !== undefined ? { cert, key } : {}) });
    } catch (e) {
      throw new TlsFileError(
        'unusable',
        [`${prefix}.certFile`, `${prefix}.keyFile`],
        `${prefix}.certFile ${settings.certFile} and ${prefix}.keyFile ${settings.keyFile} do not make a usable certificate and key (${(e as Error).message})`,
        e,
      );
    }
    return { generation: generation + 1, options: { ...base, secureContext }, clientSerial };
  }

  function keep(problem: TlsFileError): TlsState {
    if (state === undefined || problem.problem === 'missing') throw problem;
    if (reported !== problem.message) {
      reported = problem.message;
      events.keptPrevious?.(problem);
    }
    return state;
  }

  return {
    settings,
    async current() {
      if (files === undefined) return (state ??= { generation: 0, options: base, clientSerial: undefined });
      let snapshot: FileSnapshot | undefined;
      try {
        snapshot = await files.changed();
      } catch (e) {
        return keep(readError(e));
      }
      // Nothing changed since the accepted snapshot, which exists: `changed()` reports before the first accept.
      if (snapshot === undefined) return state as TlsState;
      let next: TlsState;
      try {
        next = build(snapshot.contents);
      } catch (e) {
        return keep(e as TlsFileError);
      }
      snapshot.accept();
      generation = next.generation;
      state = next;
      reported = undefined;
      events.changed?.(next);
      return next;
    },
  };
}
