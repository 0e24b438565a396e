// Configuration schema of the `syslog` sink: CEF (or any mapping) over UDP, TCP, TLS or RELP, as RFC 5424 or RFC 3164 messages.
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';
import { duration, integer, nonEmptyString, reportIssue } from '../../src/config/types.ts';
import { tlsOptions } from '../../src/net/config.ts';
import { RELP_DEFAULT_WINDOW } from './relp.ts';

export const TRANSPORTS = ['udp', 'tcp', 'tls', 'relp'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** RFC 5424 Table 1 (`authpriv`, 10, is the facility for security and authorization messages). */
export const FACILITIES: Readonly<Record<string, number>> = Object.freeze({
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  ntp: 12, audit: 13, alert: 14, clock: 15, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
});

/** Default port per transport: 514/udp (RFC 5426), 514/tcp (common practice), 6514/tcp for TLS (RFC 5425). RELP has none registered. */
export const DEFAULT_PORTS: Readonly<Partial<Record<Transport, number>>> = Object.freeze({ udp: 514, tcp: 514, tls: 6514 });

/**
 * Default `maxMessageBytes` (the whole syslog message, header included, framing excluded):
 * - UDP: 1472, the UDP payload of one unfragmented IPv4 datagram on a 1500-byte MTU (RFC 5426 §3.2: avoid
 *   fragmentation); 1024 with `format: rfc3164` (RFC 3164 §4.1).
 * - TCP, TLS, RELP: 8096, within what rsyslog takes by default (its `maxMessageSize` is 8k; imrelp, left at
 *   its defaults, keeps 8096 bytes of a message) and under the 8192 RFC 5425 §4.3.1 says TLS receivers SHOULD
 *   accept. A receiver cuts what is longer (imtcp even sends the rest on as a second message), so the sink
 *   must never send more than the receiver takes.
 */
export function defaultMaxMessageBytes(transport: Transport, format: 'rfc5424' | 'rfc3164'): number {
  if (transport === 'udp') return format === 'rfc3164' ? 1024 : 1472;
  return 8096;
}

/** RFC 5424 §6: HOSTNAME, APP-NAME are printable US-ASCII without spaces, at most 255 and 48 characters. */
const printableAscii = (what: string, max: number) =>
  nonEmptyString(what).check((ctx) => {
    if (!/^[\x21-\x7e]+$/.test(ctx.value) || ctx.value.length > max) {
      reportIssue(ctx, { expected: `${what}: printable US-ASCII without spaces, at most ${max} characters` }, ctx.value);
    }
  });

const facility = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 23) return v;
    if (typeof v === 'string' && Object.hasOwn(FACILITIES, v)) return FACILITIES[v]!;
    reportIssue(ctx, { expected: `a syslog facility: 0–23 or one of ${Object.keys(FACILITIES).join(', ')}` }, v);
    return z.NEVER;
  });

export const syslogSinkSchema = z
  .strictObject({
    type: z.literal('syslog'),
    /** Registered mapping of the message body: `cef` (ArcSight, QRadar, Sentinel) by default, or any JSON mapping. */
    mapping: nonEmptyString('a mapping name').default('cef'),
    /** `udp`, `tcp`, `tls` (RFC 5425) or `relp` (acknowledged; `relp.tls` for RELP over TLS). */
    transport: z.enum(TRANSPORTS),
    /** Receiver host name or address. */
    host: nonEmptyString('a host name or IP address'),
    /** Receiver port; default 514 (udp, tcp), 6514 (tls); required for relp. */
    port: integer({ min: 1, max: 65535 }).optional(),
    /** Message format: `rfc5424` (default) or `rfc3164` (`<PRI>Mmm dd hh:mm:ss host CEF:0|…`, ArcSight's classic form). */
    format: z.enum(['rfc5424', 'rfc3164']).default('rfc5424'),
    /** TCP and TLS framing: `octet-counting` (RFC 5425/6587, default) or `lf` (non-transparent, for old receivers). */
    framing: z.enum(['octet-counting', 'lf']).default('octet-counting'),
    /** Facility of the PRI: a name or 0–23; default `authpriv` (10). */
    facility: facility().default(FACILITIES.authpriv!),
    /** HOSTNAME of the messages; default this host's name. */
    hostname: printableAscii('a host name', 255).optional(),
    /** APP-NAME (RFC 5424) or tag (RFC 3164, JSON mappings only). */
    appName: printableAscii('an app name', 48).default('audit-forwarder'),
    /** Largest message (header + body, without framing); a longer CEF message is cut, a longer JSON one dead-lettered. */
    maxMessageBytes: integer({ min: 480, max: 1_048_576 }).optional(),
    /** Time allowed to connect, to write a batch, and (RELP) for the receiver's answers. */
    timeout: duration({ min: 100, max: 600_000 }).default(30_000),
    /** TLS for `transport: tls` and for `relp` with `relp.tls`: `caFile`, `certFile` + `keyFile` (mutual TLS), `serverName`. */
    tls: tlsOptions(),
    relp: z
      .strictObject({
        /** RELP over TLS. */
        tls: z.boolean().default(false),
        /** Messages sent and not yet answered, at most (librelp's default window: 128). */
        window: integer({ min: 1, max: 1024 }).default(RELP_DEFAULT_WINDOW),
      })
      .prefault({}),
    /** Required with `transport: udp`: UDP confirms nothing, and a lost datagram is lost without a trace. */
    bestEffort: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.transport === 'udp' && !c.bestEffort) {
      reportIssue(ctx, { text: 'UDP confirms nothing: a datagram lost on the way is lost without a trace. Use transport tcp, tls or relp, or set bestEffort: true to accept that' }, undefined, ['bestEffort']);
    }
    if (c.transport !== 'udp' && c.bestEffort) {
      reportIssue(ctx, { text: `bestEffort is for transport udp only (${c.transport} is not best-effort)` }, undefined, ['bestEffort']);
    }
    if (c.transport === 'udp' && c.maxMessageBytes !== undefined && c.maxMessageBytes > 65_507) {
      reportIssue(ctx, { text: 'a UDP datagram carries at most 65507 bytes (and one over the path MTU is fragmented): keep maxMessageBytes at or below 1472' }, undefined, ['maxMessageBytes']);
    }
    if (c.transport === 'relp' && c.port === undefined) {
      reportIssue(ctx, { text: 'missing key: RELP has no standard port; set the port of the receiver\'s imrelp input (e.g. 2514)' }, undefined, ['port']);
    }
    if (c.transport === 'udp' && c.framing !== 'octet-counting') {
      reportIssue(ctx, { text: 'framing is for tcp and tls: UDP sends one message per datagram' }, undefined, ['framing']);
    }
    if (c.transport === 'relp' && c.framing !== 'octet-counting') {
      reportIssue(ctx, { text: 'framing is for tcp and tls: RELP frames its messages itself' }, undefined, ['framing']);
    }
    const tlsUsed = c.transport === 'tls' || (c.transport === 'relp' && c.relp.tls);
    const tlsSet = c.tls.caFile !== undefined || c.tls.certFile !== undefined || c.tls.serverName !== undefined;
    if (tlsSet && !tlsUsed) {
      reportIssue(ctx, { text: c.transport === 'relp' ? 'tls is set but RELP runs without TLS: set relp.tls: true' : `tls is for transport tls or relp, not ${c.transport}` }, undefined, ['tls']);
    }
    if (c.transport !== 'relp' && (c.relp.tls || c.relp.window !== RELP_DEFAULT_WINDOW)) {
      reportIssue(ctx, { text: `relp is for transport relp, not ${c.transport}` }, undefined, ['relp']);
    }
  })
  .transform((c) => ({
    ...c,
    port: c.port ?? DEFAULT_PORTS[c.transport]!,
    hostname: c.hostname ?? (sanitizedHostname(osHostname()) || 'localhost'),
    maxMessageBytes: c.maxMessageBytes ?? defaultMaxMessageBytes(c.transport, c.format),
  }));

/** The host's name as a syslog HOSTNAME: printable US-ASCII without spaces, at most 255 characters. */
export function sanitizedHostname(name: string): string {
  return name.replace(/[^\x21-\x7e]/g, '').slice(0, 255);
}

export type SyslogSinkConfig = z.output<typeof syslogSinkSchema>;
