// SPIFFE server authorisation: the URI SANs of a certificate and the `checkServerIdentity` that requires one SPIFFE ID.
import type { PeerCertificate } from 'node:tls';

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
