// Synthetic IBM platform CADF audit records (one JSON line each) and a writer that appends them in bursts.
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';

const BASE_MS = Date.UTC(2026, 2, 1, 8, 0, 0);
const OUTCOMES = ['success', 'failure', 'pending', 'unknown', 'Success'] as const;
const ACTIONS = ['create', 'update', 'delete', 'deploy', 'authenticate', 'iam-identity.apikey.create', 'read'] as const;
const INITIATOR_TYPES = ['service', 'user', 'service/security/account/user', 'service/security/account/serviceid', 'service/security/clientid'] as const;
const CREDENTIALS = ['token', 'API key', 'user', 'apikey', 'certificate'] as const;
const TARGETS = [
  ['metering-service', 'service', 'resource'],
  ['iam-apikeys', 'resource', 'API key'],
  ['vault-secrets', 'resource', 'secret'],
  ['directory-users', 'service', 'resource'],
  ['user-groups', 'resource', 'resource'],
] as const;
/** Serialised records are padded up to about this many bytes, as the real ones are. */
const TARGET_BYTES = 450;

/** The id of the i-th record of a stream named `tag`: unique across tags and indexes. */
export function cadfId(tag: string, i: number): string {
  return `${tag}-${String(i).padStart(9, '0')}`;
}

function isoTime(ms: number, i: number): string {
  const d = new Date(ms);
  // Half the ISO times carry a numeric offset instead of Z (a local clock, as some emitters write).
  if (i % 4 === 1) {
    const local = new Date(ms + 2 * 3_600_000).toISOString().replace('Z', '');
    return `${local}+02:00`;
  }
  return d.toISOString();
}

function goTime(ms: number, i: number): string {
  // Go's default format: fraction of varying length (trailing zeros dropped), numeric offset, zone name.
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const micros = (ms % 1000) * 1000 + (i % 1000);
  const frac = micros === 0 ? '' : `.${p(micros, 6).replace(/0+$/, '')}`;
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${frac} +0000 UTC`;
}

/**
 * The i-th synthetic record of stream `tag`: its own unique `id`, increasing event times (Go's format for
 * every other record, ISO-8601 otherwise), nested keys or flat dotted keys in turn, every outcome, about
 * 450 bytes serialised.
 */
export function cadfRecord(tag: string, i: number): Record<string, unknown> {
  const ms = BASE_MS + i * 37;
  const eventTime = i % 2 === 0 ? goTime(ms, i) : isoTime(ms, i);
  const [targetName, targetKind, targetType] = TARGETS[i % TARGETS.length]!;
  const initiatorId = i % 3 === 0 ? `ApiKey-${(i * 7919) % 100_000}` : `uid=user${i % 97},ou=people,dc=example,dc=com`;
  const common = {
    id: cadfId(tag, i),
    eventTime,
    action: ACTIONS[i % ACTIONS.length]!,
    outcome: OUTCOMES[i % OUTCOMES.length]!,
    severity: i % 11 === 0 ? 'critical' : i % 7 === 0 ? 'warning' : 'normal',
  };
  const targetId = `crn:v1:icp:private:platform-service:::core:service:${targetName}`;
  const record: Record<string, unknown> =
    i % 2 === 0
      ? {
          ...common,
          typeURI: 'http://schemas.dmtf.org/cloud/audit/1.0/event',
          initiator: {
            id: initiatorId,
            typeURI: INITIATOR_TYPES[i % INITIATOR_TYPES.length],
            credential: { type: CREDENTIALS[i % CREDENTIALS.length] },
            host: { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
          },
          target: { id: targetId, name: targetKind, typeURI: targetType },
          observer: { name: tag.startsWith('pdp') ? 'auth-pdp' : 'auth-idp' },
          reason: { reasonCode: i % 5 === 1 ? 403 : 200 },
        }
      : {
          ...common,
          'initiator.id': initiatorId,
          'initiator.typeURI': INITIATOR_TYPES[i % INITIATOR_TYPES.length],
          'initiator.credential.type': CREDENTIALS[i % CREDENTIALS.length],
          'initiator.host.address': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
          'target.id': targetId,
          'target.name': targetKind,
          'target.typeURI': targetType,
          'reason.reasonCode': i % 5 === 1 ? '403' : '200',
        };
  const size = Buffer.byteLength(JSON.stringify(record));
  const text = `${common.action} on ${targetName} by ${initiatorId}`;
  const room = TARGET_BYTES - size - ',"message":""'.length;
  if (room > 0) record['message'] = text.length >= room ? text.slice(0, room) : `${text} ${'.'.repeat(room - text.length - 1)}`;
  return record;
}

/** One record as a line, with its newline. */
export function cadfLine(tag: string, i: number): string {
  return `${JSON.stringify(cadfRecord(tag, i))}\n`;
}

/** Records `from` … `from + count - 1` of stream `tag`, as lines. */
export function cadfLines(tag: string, from: number, count: number): string {
  let out = '';
  for (let i = from; i < from + count; i++) out += cadfLine(tag, i);
  return out;
}

/** A small seeded PRNG (mulberry32), so that a failing random scenario can be run again. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CadfWriterOptions {
  /** Stream name: the ids' prefix. */
  readonly tag: string;
  readonly random?: () => number;
  /** Largest burst, in lines. */
  readonly maxBurst?: number;
}

/**
 * Appends records to one log file as a service does: through a file descriptor opened for appending, in
 * bursts of several lines, a burst sometimes split mid-line across two writes. The descriptor stays on the
 * file it was opened on until `reopen()` (a renamed file keeps receiving lines until the service reopens),
 * and, opened with O_APPEND, it writes at the new end of a file truncated under it (copytruncate).
 */
export class CadfFileWriter {
  readonly path: string;
  readonly tag: string;
  /** Ids of the records written completely (newline included), in order. */
  readonly written: string[] = [];
  private fd: number;
  private next = 0;
  private readonly random: () => number;
  private readonly maxBurst: number;

  constructor(path: string, options: CadfWriterOptions) {
    this.path = path;
    this.tag = options.tag;
    this.random = options.random ?? Math.random;
    this.maxBurst = options.maxBurst ?? 40;
    this.fd = openSync(path, 'a');
  }

  /** Inode of the file the descriptor writes to. */
  inode(): number {
    return fstatSync(this.fd).ino;
  }

  /** Writes `count` records (default: a random burst); returns their ids. */
  burst(count = 1 + Math.floor(this.random() * this.maxBurst)): string[] {
    const ids: string[] = [];
    let text = '';
    for (let k = 0; k < count; k++) {
      ids.push(cadfId(this.tag, this.next));
      text += cadfLine(this.tag, this.next++);
    }
    const data = Buffer.from(text);
    if (data.length > 1 && this.random() < 0.3) {
      // Two writes cutting a line in half: a reader may see the first part alone.
      const cut = 1 + Math.floor(this.random() * (data.length - 1));
      writeSync(this.fd, data, 0, cut);
      writeSync(this.fd, data, cut);
    } else {
      writeSync(this.fd, data);
    }
    this.written.push(...ids);
    return ids;
  }

  /** Writes `total` records in random bursts. */
  write(total: number): string[] {
    const ids: string[] = [];
    while (ids.length < total) ids.push(...this.burst(Math.min(total - ids.length, 1 + Math.floor(this.random() * this.maxBurst))));
    return ids;
  }

  /** Writes raw bytes (a bad line, half a line): not counted as a record. */
  raw(data: string | Buffer): void {
    writeSync(this.fd, typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** Closes the descriptor and opens `path` again (creating it): what a service does after a rename rotation. */
  reopen(): void {
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
  }

  close(): void {
    closeSync(this.fd);
  }
}
