// The syslog sink's pure part: RFC 5424 / RFC 3164 messages around a mapped record, CEF cut to the size limit, and TCP framing.
/*
 * Hand-written: the npm syslog formatters (syslog-client, glossy, the transports of winston/pino) are unmaintained
 * or format a log line of their own, and none cuts a CEF message to a byte budget without splitting an escape or
 * a UTF-8 sequence. What is here is the RFC 5424 / 3164 header (a few fields), framing, and that cut.
 */
import type { SinkRecord } from '../../src/contracts/sink.ts';
import { escapeExtension, TRUNCATED, truncate, unescapeExtension } from '../../mappings/cef/escape.ts';

export interface MessageSettings {
  readonly format: 'rfc5424' | 'rfc3164';
  /** 0–23. */
  readonly facility: number;
  /** Printable US-ASCII, no spaces (config.ts checks it). */
  readonly hostname: string;
  readonly appName: string;
  /** PROCID (RFC 5424) and the tag's `[pid]` (RFC 3164). */
  readonly procId: string;
  /** The whole message (header and body), framing excluded. */
  readonly maxMessageBytes: number;
  /** The body is a CEF line (the `cef` mapping): it may be cut to fit, and RFC 3164 puts it right after the host. */
  readonly cef: boolean;
}

/**
 * The syslog severity (RFC 5424 Table 2) of an event's 0–10 severity, by the CEF bands: Low (0–3) →
 * informational (6), Medium (4–6) → notice (5), High (7–8) → warning (4), Very-High (9–10) → critical (2).
 */
export function syslogSeverity(severity: number): number {
  if (severity <= 3) return 6;
  if (severity <= 6) return 5;
  if (severity <= 8) return 4;
  return 2;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** RFC 5424 MSGID: printable US-ASCII without spaces, at most 32 characters; `-` when empty. */
export function msgIdOf(eventType: string): string {
  const id = eventType.replace(/[^\x21-\x7e]/g, '_').slice(0, 32);
  return id === '' ? '-' : id;
}

/**
 * RFC 5424 TIMESTAMP: the event time (canonical UTC, at most six fraction digits, as RFC 5424 allows), or `-`
 * for a time after 2099, which rsyslog's RFC 5424 parser refuses (it then reads the whole message as RFC 3164,
 * losing APP-NAME and MSGID); the body carries the event time in full either way.
 */
function timestamp5424(eventTime: string): string {
  return RFC3339.test(eventTime) && eventTime < '2100' ? eventTime : '-';
}

/** RFC 3164 TIMESTAMP `Mmm dd hh:mm:ss` (day padded with a space) of the event time, in UTC. */
function timestamp3164(eventTime: string): string {
  const m = /^\d{4}-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})/.exec(eventTime);
  const month = m === null ? undefined : MONTHS[Number(m[1]) - 1];
  if (m === null || month === undefined) return timestamp3164(new Date().toISOString());
  return `${month} ${m[2]!.replace(/^0/, ' ')} ${m[3]}`;
}

/** Everything before the body. */
export function headerOf(record: SinkRecord, s: MessageSettings): string {
  const pri = `<${s.facility * 8 + syslogSeverity(record.severity)}>`;
  if (s.format === 'rfc5424') {
    return `${pri}1 ${timestamp5424(record.eventTime)} ${s.hostname} ${s.appName} ${s.procId} ${msgIdOf(record.eventType)} - `;
  }
  // ArcSight reads `<PRI>Mmm dd hh:mm:ss host CEF:0|…`: a tag before CEF would be taken as part of it.
  return `${pri}${timestamp3164(record.eventTime)} ${s.hostname} ${s.cef ? '' : `${s.appName}[${s.procId}]: `}`;
}

export type BuiltMessage =
  | {
      readonly ok: true;
      /** The whole message, header and body. */
      readonly text: string;
      /** Its UTF-8 size (counted from the record's, not by encoding it again). */
      readonly bytes: number;
      /** The CEF body was cut to fit. */
      readonly cut: boolean;
    }
  | { readonly ok: false; readonly reason: string };

/** One syslog message for a record, within `maxMessageBytes`: a CEF body is cut to fit, any other is refused when too long. */
export function buildMessage(record: SinkRecord, s: MessageSettings): BuiltMessage {
  const header = headerOf(record, s);
  const headerBytes = Buffer.byteLength(header);
  const budget = s.maxMessageBytes - headerBytes;
  if (record.bytes <= budget) return { ok: true, text: header + record.payload, bytes: headerBytes + record.bytes, cut: false };
  if (s.cef) {
    const fitted = fitCef(record.payload, budget);
    if (fitted !== undefined) return { ok: true, text: header + fitted, bytes: headerBytes + Buffer.byteLength(fitted), cut: true };
    return { ok: false, reason: `the CEF message cannot be cut to maxMessageBytes ${s.maxMessageBytes} (its header and fixed fields alone are longer): raise maxMessageBytes` };
  }
  return {
    ok: false,
    reason: `the message is ${headerBytes + record.bytes} bytes, over maxMessageBytes ${s.maxMessageBytes}, and a JSON record cannot be cut: raise maxMessageBytes (the receiver must accept it too) or use the cef mapping`,
  };
}

/** TCP/TLS framing of a message of `bytes` UTF-8 bytes: octet counting (`LEN SP MSG`, RFC 6587 §3.4.1, RFC 5425 §4.3) or LF after it. */
export function frame(text: string, bytes: number, framing: 'octet-counting' | 'lf'): string {
  return framing === 'lf' ? `${text}\n` : `${bytes} ${text}`;
}

/** UTF-8 bytes of `frame(text, bytes, framing)`. */
export function framedBytes(bytes: number, framing: 'octet-counting' | 'lf'): number {
  return framing === 'lf' ? bytes + 1 : String(bytes).length + 1 + bytes;
}

// ---- fitting a CEF line into a byte budget ----

/** Extension keys never cut: numbers, addresses, times, labels, and the ids a SIEM correlates on. */
const KEPT = /^(rt|start|end|cn\d|cfp\d|src|dst|spt|dpt|c6a\d|cnt|type|externalId|.*Label)$/;
/** Cut last: the full event id. */
const CUT_LAST = new Set(['cs1']);

interface Pair {
  readonly key: string;
  /** The escaped value as written. */
  value: string;
  bytes: number;
}

/** Index just after the 7th unescaped `|` (the end of the CEF header), or -1. */
function headerEnd(cef: string): number {
  let bars = 0;
  for (let i = 0; i < cef.length; i++) {
    const c = cef.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x7c && ++bars === 7) return i + 1;
  }
  return -1;
}

/** The `key=value` pairs of an extension whose values are escaped (`\=` inside a value): split at unescaped `=`. */
function pairsOf(ext: string): Pair[] | undefined {
  const eqs: number[] = [];
  for (let i = 0; i < ext.length; i++) {
    const c = ext.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x3d) eqs.push(i);
  }
  const pairs: Pair[] = [];
  let keyStart = 0;
  for (let k = 0; k < eqs.length; k++) {
    const eq = eqs[k]!;
    const key = ext.slice(keyStart, eq);
    if (!/^[A-Za-z0-9_.[\]]+$/.test(key)) return undefined;
    // The value runs to the space before the next key.
    const next = eqs[k + 1];
    const end = next === undefined ? ext.length : ext.lastIndexOf(' ', next);
    if (end <= eq) return undefined;
    const value = ext.slice(eq + 1, end);
    pairs.push({ key, value, bytes: Buffer.byteLength(value) });
    keyStart = end + 1;
  }
  return pairs;
}

/**
 * The escaped value cut (before escaping, so an escape or a UTF-8 sequence is never split) to at most
 * `maxBytes` bytes with the mapping's truncation marker, which counts the whole value's characters.
 */
function cutValue(escaped: string, maxBytes: number): string {
  let raw = unescapeExtension(escaped);
  let original = raw.length;
  const marked = TRUNCATED.exec(raw);
  if (marked !== null) {
    original = Number(marked[1]);
    raw = raw.slice(0, marked.index);
  }
  // The longest cut (in UTF-16 units, as `truncate` counts) whose escaped form fits: binary search.
  let lo = 1;
  let hi = raw.length;
  let best = '…';
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const candidate = escapeExtension(truncate(raw, mid, original));
    if (Buffer.byteLength(candidate) <= maxBytes && mid < raw.length) {
      best = candidate;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/**
 * A CEF line (as the `cef` mapping writes it) cut to at most `budget` bytes, or undefined when it cannot be.
 * The header is kept whole. The longest text values are cut first, each ending with the mapping's visible
 * marker `…[truncated, N chars]`; numbers, times, addresses, labels and `externalId` are never cut, the event id
 * in `cs1` only last. No value is dropped, no key can be forged (values are cut before escaping).
 */
export function fitCef(cef: string, budget: number): string | undefined {
  let total = Buffer.byteLength(cef);
  if (total <= budget) return cef;
  const end = headerEnd(cef);
  if (end < 0) return undefined;
  const header = cef.slice(0, end);
  const pairs = pairsOf(cef.slice(end));
  if (pairs === undefined) return undefined;
  const MIN = Buffer.byteLength('…');
  const exhausted = new Set<Pair>();
  for (const lastTier of [false, true]) {
    for (;;) {
      const over = total - budget;
      if (over <= 0) break;
      let largest: Pair | undefined;
      for (const p of pairs) {
        if (KEPT.test(p.key) || CUT_LAST.has(p.key) !== lastTier || p.bytes <= MIN || exhausted.has(p)) continue;
        if (largest === undefined || p.bytes > largest.bytes) largest = p;
      }
      if (largest === undefined) break;
      const cut = cutValue(largest.value, Math.max(MIN, largest.bytes - over));
      const bytes = Buffer.byteLength(cut);
      if (bytes >= largest.bytes) {
        exhausted.add(largest); // cannot get shorter (already the bare marker)
        continue;
      }
      total -= largest.bytes - bytes;
      largest.value = cut;
      largest.bytes = bytes;
    }
    if (total <= budget) return header + pairs.map((p) => `${p.key}=${p.value}`).join(' ');
  }
  return undefined;
}
