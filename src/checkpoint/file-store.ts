// File checkpoint store: one checksummed, versioned JSON file per key, replaced atomically, previous copy kept, one user at a time.
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, link, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { CHECKPOINT_FORMAT_VERSION } from '../contracts/checkpoint-store.ts';
import type { Checkpoint, CheckpointLock, CheckpointLockHolder, CheckpointStore, SinkPosition } from '../contracts/checkpoint-store.ts';
import { ForwarderError, isForwarderError } from '../contracts/errors.ts';
import type { ErrorDisposition } from '../contracts/errors.ts';
import { canonicalJson, isJsonObject, type JsonObject } from '../model/json.ts';
import { ledgerStateProblem } from '../ledger/accountant.ts';
import { ensureDirectory, errno, fsyncPath, serialised, exists, readIfExists } from '../util/durable-fs.ts';
import { tryLockFile } from './lock.ts';
import type { LockAttempt, LockHolderInfo } from './lock.ts';

/*
 * On-disk envelope, stable across format versions so that a newer file is recognised as newer rather than
 * as corrupt: an object with `format`, `version` and `checksum` = `sha256:` + hex of the canonical JSON of
 * every other member. A file whose checksum does not verify is corrupt whatever its version says (a
 * flipped bit in `version` must not pass for an upgrade).
 */
export const CHECKPOINT_FILE_FORMAT = 'audit-forwarder-checkpoint';
const FILE_SUFFIX = '.checkpoint.json';
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const RESET_COMMAND = 'audit-forwarder checkpoint reset --route';
const RESET_HOLDER: CheckpointLockHolder = { command: 'checkpoint reset' };

/** `sha256:` + hex of the canonical JSON of `identity`: what a checkpoint's fingerprint is made of. */
export function fingerprintOf(identity: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(identity))}`;
}

/** Why `key` is not a valid checkpoint key, or undefined when it is (for config and CLI validation). */
export function checkpointKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  const shapeOk = (parts[0] === 'routes' && parts.length === 2) || (parts[0] === 'replays' && parts.length === 3);
  if (!shapeOk) return 'a checkpoint key is `routes/<route>` or `replays/<route>/<slug>`';
  for (const part of parts.slice(1)) {
    if (!SEGMENT.test(part)) return `"${part}" may only contain letters, digits, '.', '_' and '-'`;
    if (part === '.' || part.includes('..')) return `"${part}" may not be '.' or contain '..'`;
  }
  return undefined;
}

/** The file that holds the checkpoint `key` under `directory`. Throws on an invalid key. */
export function checkpointFilePath(directory: string, key: string): string {
  return keyInfo(directory, key).file;
}

export function createFileCheckpointStore(directory: string): CheckpointStore {
  const root = path.resolve(directory);
  return {
    load: async (key, fingerprint, accepted = []) => {
      const info = keyInfo(root, key);
      return serialised(info.file, () => loadChecked(info, fingerprint, accepted));
    },
    inspect: async (key) => {
      const info = keyInfo(root, key);
      return serialised(info.file, () => loadChecked(info, undefined));
    },
    save: async (checkpoint) => {
      const info = keyInfo(root, checkpoint.key);
      // Encoded now, not when its turn comes: the caller may go on changing the objects it passed.
      const text = encodeCheckpoint(checkpoint);
      return serialised(info.file, () => saveNow(info, text));
    },
    reset: async (key) => {
      const info = keyInfo(root, key);
      const lock = await lockKey(info, RESET_HOLDER, 'reset');
      try {
        return await serialised(info.file, () => resetNow(info));
      } finally {
        await lock.release();
      }
    },
    lock: async (key, holder) => lockKey(keyInfo(root, key), holder, 'use'),
    list: () => listKeys(root),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Keys and files

interface KeyInfo {
  readonly key: string;
  readonly route: string;
  /** Replay slug, for replay keys. */
  readonly slug?: string;
  readonly dir: string;
  readonly file: string;
  readonly prev: string;
  readonly lock: string;
}

function keyInfo(root: string, key: string): KeyInfo {
  const problem = typeof key === 'string' ? checkpointKeyProblem(key) : 'the key is not a string';
  if (problem !== undefined) {
    throw new ForwarderError('FWD_CONFIG_INVALID', `Invalid checkpoint key ${JSON.stringify(key)}: ${problem}.`, {
      stage: 'config',
      disposition: 'fatal',
    });
  }
  const parts = key.split('/');
  const route = parts[1]!;
  const file = path.join(root, ...parts.slice(0, -1), `${parts[parts.length - 1]!}${FILE_SUFFIX}`);
  return {
    key,
    route,
    ...(parts[0] === 'replays' ? { slug: parts[2]! } : {}),
    dir: path.dirname(file),
    file,
    prev: `${file}.prev`,
    lock: `${file}.lock`,
  };
}

function tempName(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------------------
// Encoding and verification

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function encodeCheckpoint(checkpoint: Checkpoint): string {
  if (checkpoint.version !== CHECKPOINT_FORMAT_VERSION) {
    throw new TypeError(`cannot write checkpoint version ${String(checkpoint.version)}`);
  }
  if (typeof checkpoint.fingerprint !== 'string') throw new TypeError('checkpoint fingerprint must be a string');
  const sinks: Record<string, SinkPosition> = {};
  for (const [name, sp] of Object.entries(checkpoint.sinks)) {
    if (!Number.isSafeInteger(sp.records) || sp.records < 0) {
      throw new TypeError(`checkpoint sink ${name}: records must be a non-negative integer`);
    }
    sinks[name] = { position: sp.position, records: sp.records, savedAt: sp.savedAt, ...(sp.ledger !== undefined ? { ledger: sp.ledger } : {}) };
  }
  // Through JSON once, so that what is hashed is exactly what a reader will parse (Dates, undefined …).
  const body = JSON.parse(
    JSON.stringify({
      format: CHECKPOINT_FILE_FORMAT,
      version: checkpoint.version,
      key: checkpoint.key,
      fingerprint: checkpoint.fingerprint,
      sinks,
      meta: checkpoint.meta,
    }),
  ) as Record<string, unknown>;
  const checksum = `sha256:${sha256Hex(canonicalJson(body))}`;
  return `${JSON.stringify({ ...body, checksum }, null, 2)}\n`;
}

type Decoded =
  | { readonly state: 'valid'; readonly checkpoint: Checkpoint }
  | { readonly state: 'corrupt'; readonly problem: string }
  | { readonly state: 'unsupported'; readonly version: unknown };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeCheckpoint(bytes: Uint8Array, expectedKey: string): Decoded {
  const corrupt = (problem: string): Decoded => ({ state: 'corrupt', problem });
  if (bytes.length === 0) return corrupt('the file is empty (truncated)');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return corrupt('the file is not valid UTF-8 text');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return corrupt(`the file is not valid JSON, it may be truncated (${(e as Error).message})`);
  }
  if (!isJsonObject(doc)) return corrupt('the file does not hold a JSON object');
  if (doc['format'] !== CHECKPOINT_FILE_FORMAT) {
    return corrupt(`the format marker is ${JSON.stringify(doc['format'] ?? null)}, not "${CHECKPOINT_FILE_FORMAT}"`);
  }
  const { checksum, ...body } = doc;
  const match = typeof checksum === 'string' ? /^([a-z0-9]+):(.*)$/s.exec(checksum) : null;
  if (match === null) return corrupt('the checksum is missing or malformed');
  if (match[1] !== 'sha256') {
    // An algorithm this build does not know: a newer format, unless the version claims to be ours.
    if (body['version'] !== CHECKPOINT_FORMAT_VERSION) return { state: 'unsupported', version: body['version'] };
    return corrupt(`the checksum algorithm "${match[1]}" is unknown`);
  }
  const computed = sha256Hex(canonicalJson(body));
  if (match[2] !== computed) {
    return corrupt(`checksum mismatch (stored ${short(checksum as string)}, content hashes to ${short(`sha256:${computed}`)})`);
  }
  if (body['version'] !== CHECKPOINT_FORMAT_VERSION) return { state: 'unsupported', version: body['version'] };
  const { key, fingerprint, sinks, meta } = body;
  if (typeof key !== 'string') return corrupt('the key is missing');
  if (key !== expectedKey) return corrupt(`it was written for key "${key}", not "${expectedKey}" (copied from elsewhere?)`);
  if (typeof fingerprint !== 'string') return corrupt('the fingerprint is missing');
  if (!isJsonObject(sinks)) return corrupt('"sinks" is not an object');
  const positions: Record<string, SinkPosition> = {};
  for (const [name, sp] of Object.entries(sinks)) {
    if (!isJsonObject(sp) || !('position' in sp)) return corrupt(`sink "${name}" has no position`);
    const records = sp['records'];
    if (typeof records !== 'number' || !Number.isSafeInteger(records) || records < 0) {
      return corrupt(`sink "${name}" has an invalid record count`);
    }
    if (typeof sp['savedAt'] !== 'string') return corrupt(`sink "${name}" has no savedAt time`);
    const ledger = sp['ledger'];
    if (ledger !== undefined) {
      const problem = ledgerStateProblem(ledger);
      if (problem !== undefined) return corrupt(`sink "${name}": its ledger state ${problem}`);
    }
    positions[name] = { position: sp['position']!, records, savedAt: sp['savedAt'], ...(ledger !== undefined ? { ledger: ledger as JsonObject } : {}) };
  }
  if (meta !== undefined && !isJsonObject(meta)) return corrupt('"meta" is not an object');
  return {
    state: 'valid',
    checkpoint: {
      version: CHECKPOINT_FORMAT_VERSION,
      key,
      fingerprint,
      sinks: positions,
      ...(meta !== undefined ? { meta } : {}),
    },
  };
}

function short(hash: string): string {
  const colon = hash.indexOf(':');
  return `${hash.slice(0, colon + 13)}…`;
}

// ---------------------------------------------------------------------------------------------------------
// I/O helpers

function ioError(action: string, file: string, cause: unknown, disposition: ErrorDisposition): ForwarderError {
  if (isForwarderError(cause)) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ForwarderError('FWD_CHECKPOINT_IO', `Cannot ${action} checkpoint file ${file}: ${detail}`, {
    stage: 'checkpoint',
    disposition,
    cause,
  });
}



async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function utcStamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '');
}

async function unusedName(base: string): Promise<string> {
  for (let i = 0; ; i++) {
    const candidate = i === 0 ? base : `${base}-${i}`;
    if (!(await exists(candidate))) return candidate;
  }
}

/** Whether a process with this id still runs (its temp file may still be in use). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

/**
 * Removes temp files a crash left between write and rename. Our own pid's are stale too: operations on one
 * file are serialised, so none of ours is in flight for this file now.
 */
async function removeStaleTemps(info: KeyInfo): Promise<void> {
  let names: string[];
  try {
    names = await readdir(info.dir);
  } catch (e) {
    if (errno(e) === 'ENOENT') return;
    throw e;
  }
  const pattern = new RegExp(`^${escapeRegExp(path.basename(info.file))}\\.tmp-(\\d+)-[0-9a-f]+$`);
  for (const name of names) {
    const m = pattern.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || !processAlive(pid)) await rm(path.join(info.dir, name), { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Operations

function what(info: KeyInfo): string {
  return info.slug === undefined ? `route "${info.route}"` : `replay "${info.slug}" of route "${info.route}"`;
}

function startOverAdvice(info: KeyInfo): string {
  if (info.slug === undefined) return `To start ${what(info)} over from the beginning instead, run: ${RESET_COMMAND} ${info.route}`;
  return `To start ${what(info)} over instead, run the same \`audit-forwarder replay\` command with --restart.`;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_/.,:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function describePositions(checkpoint: Checkpoint): string {
  const names = Object.keys(checkpoint.sinks).sort();
  if (names.length === 0) return '  (no sink positions yet)';
  return names
    .map((name) => {
      const sp = checkpoint.sinks[name]!;
      let pos = canonicalJson(sp.position);
      if (pos.length > 160) pos = `${pos.slice(0, 160)}…`;
      return `  - sink "${name}": position ${pos}, ${sp.records} records, saved ${sp.savedAt}`;
    })
    .join('\n');
}

/** What the operator can do about a main file that cannot be used, given the state of `.prev`. */
async function corruptError(info: KeyInfo, problem: string, fingerprint: string | undefined): Promise<ForwarderError> {
  let prevText: string;
  try {
    const bytes = await readIfExists(info.prev);
    if (bytes === undefined) {
      prevText = `There is no previous copy (${info.prev} does not exist).`;
    } else {
      const prev = decodeCheckpoint(bytes, info.key);
      if (prev.state === 'valid') {
        const other =
          fingerprint !== undefined && prev.checkpoint.fingerprint !== fingerprint
            ? ' (note: it was written for a different source configuration, so resuming from it will be refused)'
            : '';
        prevText =
          `The previous checkpoint ${info.prev} is valid${other}; it is one save older, so records after it ` +
          `are sent again:\n${describePositions(prev.checkpoint)}\n` +
          `To resume from it, run: mv ${shellQuote(info.prev)} ${shellQuote(info.file)}`;
      } else if (prev.state === 'unsupported') {
        prevText = `The previous copy ${info.prev} has format version ${JSON.stringify(prev.version)}, which this build cannot read.`;
      } else {
        prevText = `The previous copy ${info.prev} is not usable either: ${prev.problem}.`;
      }
    }
  } catch (e) {
    prevText = `The previous copy ${info.prev} cannot be read: ${(e as Error).message}.`;
  }
  return new ForwarderError(
    'FWD_CHECKPOINT_CORRUPT',
    `Checkpoint file ${info.file} of ${what(info)} is unusable: ${problem}. ` +
      `The forwarder will not guess where delivery stopped, so it does not go on.\n` +
      `${prevText}\n${startOverAdvice(info)}`,
    { stage: 'checkpoint', disposition: 'fatal' },
  );
}

async function loadChecked(info: KeyInfo, fingerprint: string | undefined, accepted: readonly string[] = []): Promise<Checkpoint | undefined> {
  let bytes: Uint8Array | undefined;
  let prevExists: boolean;
  try {
    await removeStaleTemps(info);
    bytes = await readIfExists(info.file);
    prevExists = bytes === undefined && (await exists(info.prev));
  } catch (e) {
    throw ioError('read', info.file, e, 'fatal');
  }
  if (bytes === undefined) {
    if (!prevExists) return undefined;
    throw await corruptError(info, 'the file is missing although its previous copy exists', fingerprint);
  }
  const decoded = decodeCheckpoint(bytes, info.key);
  if (decoded.state === 'corrupt') throw await corruptError(info, decoded.problem, fingerprint);
  if (decoded.state === 'unsupported') {
    throw new ForwarderError(
      'FWD_CHECKPOINT_UNSUPPORTED_VERSION',
      `Checkpoint file ${info.file} of ${what(info)} has format version ${JSON.stringify(decoded.version)}; ` +
        `this build reads version ${CHECKPOINT_FORMAT_VERSION}. It was written by a newer audit-forwarder: run that ` +
        `version again. ${startOverAdvice(info)}`,
      { stage: 'checkpoint', disposition: 'fatal' },
    );
  }
  const checkpoint = decoded.checkpoint;
  if (fingerprint !== undefined && checkpoint.fingerprint !== fingerprint && !accepted.includes(checkpoint.fingerprint)) {
    const advice =
      info.slug === undefined
        ? `to start this route over run \`${RESET_COMMAND} ${info.route}\` (or, for a source read by time such as ` +
          `connect, move its position with \`audit-forwarder checkpoint set --route ${info.route} --at <time>\`)`
        : 'to start this replay over run the same `audit-forwarder replay` command with --restart';
    throw new ForwarderError(
      'FWD_CHECKPOINT_SOURCE_CHANGED',
      `The source configuration of ${what(info)} changed since the checkpoint was written ` +
        `(stored fingerprint ${short(checkpoint.fingerprint)}, now ${short(fingerprint)}): its positions belong ` +
        `to another source and cannot be resumed. Restore the previous source configuration, or ${advice} ` +
        `(checkpoint file ${info.file}).`,
      { stage: 'checkpoint', disposition: 'fatal' },
    );
  }
  return checkpoint;
}

/**
 * temp → fsync → (current → .prev) → rename temp over current → fsync dir. Nothing is ever written into an
 * existing name: the file and `.prev` each always name a complete, fsynced checkpoint.
 */
async function saveNow(info: KeyInfo, text: string): Promise<void> {
  const temp = tempName(info.file);
  try {
    await ensureDirectory(info.dir);
    await writeDurably(temp, text);
    const current = await readIfExists(info.file);
    if (current !== undefined) {
      if (decodeCheckpoint(current, info.key).state === 'valid') {
        await keepAsPrevious(info);
      } else {
        // Never rotate a bad file into `.prev` (that would destroy the last good copy); keep it for diagnosis.
        await keepForDiagnosis(info.file);
      }
    }
    await rename(temp, info.file);
    await fsyncPath(info.dir);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw ioError('write', info.file, e, 'permanent');
  }
}

/** Best effort: a copy that cannot be made must not stop the save that replaces the bad file. */
async function keepForDiagnosis(file: string): Promise<void> {
  const target = await unusedName(`${file}.corrupt-${utcStamp()}`);
  await link(file, target).catch(() => copyFile(file, target)).catch(() => undefined);
}

/** `.prev` becomes the current file: a hard link (no copy) swapped in by rename; a copy where links fail. */
async function keepAsPrevious(info: KeyInfo): Promise<void> {
  const temp = tempName(info.file);
  try {
    try {
      await link(info.file, temp);
    } catch (e) {
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS', 'EXDEV'].includes(errno(e) ?? '')) throw e;
      await copyFile(info.file, temp);
      await fsyncPath(temp);
    }
    await rename(temp, info.prev);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/** `purpose` only changes the wording of a refusal. */
async function lockKey(info: KeyInfo, holder: CheckpointLockHolder, purpose: 'use' | 'reset'): Promise<CheckpointLock> {
  let attempt: LockAttempt;
  try {
    await ensureDirectory(info.dir);
    attempt = await tryLockFile(info.lock, holder.command);
  } catch (e) {
    throw ioError('lock', info.lock, e, 'fatal');
  }
  if (!attempt.granted) throw lockedError(info, attempt.holder, purpose === 'reset' ? undefined : holder);
  return { key: info.key, release: attempt.lock.release };
}

/** `refused`: who wanted to use the checkpoint; undefined for a reset. */
function lockedError(info: KeyInfo, holder: LockHolderInfo | undefined, refused: CheckpointLockHolder | undefined): ForwarderError {
  let by: string;
  if (holder === undefined) {
    by = 'another process, pid unknown (its lock file could not be read: it may have been just starting)';
  } else {
    const here = holder.host === hostname();
    const who = here && holder.pid === process.pid ? 'this same process' : here ? 'another process' : `a process on host ${holder.host}`;
    by = `${who}, pid ${holder.pid} ("${holder.command}", since ${holder.since})`;
  }
  const beside =
    info.slug === undefined
      ? 'a replay of a time range of this route (`audit-forwarder replay`) may run beside it'
      : 'a replay of another time range may run beside it';
  return new ForwarderError(
    'FWD_STATE_LOCKED',
    `The checkpoint of ${what(info)} is in use by ${by}, ` +
      (refused === undefined
        ? `so it cannot be reset now (lock file ${info.lock}): its holder's next save would undo the reset. ` +
          `Stop that process first (its lock ends with it, even if it is killed), then reset.`
        : `so "${refused.command}" cannot use it (lock file ${info.lock}): two processes on one checkpoint would ` +
          `both send everything and overwrite each other's positions. Stop that process first (its lock ends ` +
          `with it, even if it is killed); ${beside}.`),
    { stage: 'checkpoint', disposition: 'fatal' },
  );
}

async function resetNow(info: KeyInfo): Promise<boolean> {
  const stamp = utcStamp();
  try {
    // `.prev` first: a crash in between leaves the checkpoint in place rather than a lone `.prev`.
    let found = false;
    if (await exists(info.prev)) {
      await rename(info.prev, await unusedName(`${info.file}.prev.reset-${stamp}`));
      found = true;
    }
    if (await exists(info.file)) {
      await rename(info.file, await unusedName(`${info.file}.reset-${stamp}`));
      found = true;
    }
    if (found) await fsyncPath(info.dir);
    return found;
  } catch (e) {
    throw ioError('reset', info.file, e, 'permanent');
  }
}

async function listKeys(root: string): Promise<string[]> {
  const keys = new Set<string>();
  const namesIn = async (dir: string): Promise<string[]> => {
    try {
      return await readdir(dir);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return [];
      throw ioError('list', dir, e, 'permanent');
    }
  };
  const baseOf = (name: string): string | undefined => {
    const base = name.endsWith(FILE_SUFFIX)
      ? name.slice(0, -FILE_SUFFIX.length)
      : name.endsWith(`${FILE_SUFFIX}.prev`)
        ? name.slice(0, -(FILE_SUFFIX.length + 5))
        : undefined;
    return base !== undefined && SEGMENT.test(base) ? base : undefined;
  };
  for (const name of await namesIn(path.join(root, 'routes'))) {
    const base = baseOf(name);
    if (base !== undefined && checkpointKeyProblem(`routes/${base}`) === undefined) keys.add(`routes/${base}`);
  }
  for (const route of await namesIn(path.join(root, 'replays'))) {
    if (!SEGMENT.test(route)) continue;
    for (const name of await namesIn(path.join(root, 'replays', route))) {
      const base = baseOf(name);
      const key = `replays/${route}/${base}`;
      if (base !== undefined && checkpointKeyProblem(key) === undefined) keys.add(key);
    }
  }
  return [...keys].sort();
}
