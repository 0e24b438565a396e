// Identifier helpers of the `ecs` mapping: IP addresses ECS `ip` fields accept, and SPIFFE trust domains.
import { isIP } from 'node:net';

/** True when an Elasticsearch `ip` field accepts the string: an IPv4 or IPv6 address without a zone index. */
export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0 && !s.includes('%');
}

const SPIFFE = 'spiffe://';

/** The trust domain of a SPIFFE ID (`spiffe://example.org/ns/x` → `example.org`), else undefined. */
export function spiffeTrustDomain(id: string): string | undefined {
  if (!id.startsWith(SPIFFE)) return undefined;
  const end = id.indexOf('/', SPIFFE.length);
  const domain = end === -1 ? id.slice(SPIFFE.length) : id.slice(SPIFFE.length, end);
  return domain === '' ? undefined : domain;
}
