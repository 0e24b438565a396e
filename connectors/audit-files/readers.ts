// Byte readers of the audit-files source: a plain file from an offset, a gzip generation's decompressed bytes, a file's first bytes.
import type { FileHandle } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** Reads a file's bytes in order from a start offset. */
export interface Reader {
  /** The next bytes (a view of a shared buffer: use before the next call), or undefined at the current end. */
  next(): Promise<Buffer | undefined>;
  /** True when the end is final (a compressed generation cannot grow). */
  readonly final: boolean;
  /** Closes the reader and its file handle; unregisters it. */
  close(): Promise<void>;
}

/**
 * A plain file's bytes from `start`, read through `buf` (shared by the readers of one read) and, with
 * `limit`, no further than that offset (a replay reads what the file held when it opened it). The reader
 * registers itself in `open` until closed, so that the source's `close()` finds it.
 */
export function plainReader(fh: FileHandle, start: number, buf: Buffer, open: Set<Reader>, limit?: number): Reader {
  let pos = start;
  const reader: Reader = {
    final: false,
    async next() {
      const max = limit === undefined ? buf.length : Math.min(buf.length, limit - pos);
      if (max <= 0) return undefined;
      const { bytesRead } = await fh.read(buf, 0, max, pos);
      if (bytesRead === 0) return undefined;
      pos += bytesRead;
      return buf.subarray(0, bytesRead);
    },
    async close() {
      open.delete(reader);
      await fh.close().catch(() => undefined);
    },
  };
  open.add(reader);
  return reader;
}

/**
 * Decompressed bytes of a `.gz` generation from `skip` (offsets of a gz file are in decompressed bytes).
 * A corrupt or half-written archive ends the reader where the damage starts, after `onDamage` is told.
 */
export function gzipReader(fh: FileHandle, skip: number, open: Set<Reader>, onDamage: (e: Error) => void): Reader {
  const gunzip = gunzipStream(fh);
  const it = (gunzip as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let toSkip = skip;
  let ended = false;
  const reader: Reader = {
    final: true,
    async next() {
      while (!ended) {
        let r: IteratorResult<Buffer>;
        try {
          r = await it.next();
        } catch (e) {
          // What was decompressed is kept, the rest cannot be read.
          ended = true;
          onDamage(e as Error);
          return undefined;
        }
        if (r.done === true) {
          ended = true;
          return undefined;
        }
        let chunk = r.value;
        if (toSkip > 0) {
          if (chunk.length <= toSkip) {
            toSkip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(toSkip);
          toSkip = 0;
        }
        return chunk;
      }
      return undefined;
    },
    async close() {
      open.delete(reader);
      gunzip.destroy();
      await fh.close().catch(() => undefined);
    },
  };
  open.add(reader);
  return reader;
}

/** The first `length` bytes of an open plain file (fewer when it is shorter). */
export async function plainPrefix(fh: FileHandle, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** The raw bytes of an open file from its start, read through the handle (which stays open). */
async function* rawChunks(fh: FileHandle): AsyncGenerator<Buffer> {
  let pos = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

/**
 * The decompressed content of an open gzip file, as a stream (errors, such as a corrupt or half-written
 * archive, surface when iterating it). Destroying it leaves the handle open.
 */
export function gunzipStream(fh: FileHandle): Readable {
  return pipeline(Readable.from(rawChunks(fh), { objectMode: false }), createGunzip({ chunkSize: 64 * 1024 }), () => undefined);
}

/** The first `length` decompressed bytes of an open gzip file (fewer when shorter or corrupt). */
export async function gzipPrefix(fh: FileHandle, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  const stream = gunzipStream(fh);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      got += chunk.length;
      if (got >= length) break;
    }
  } catch {
    // A corrupt or half-written archive: its prefix is what could be decompressed.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, length);
}

/** The first `length` bytes of an open file, decompressed ones for a `.gz` generation. */
export function prefixOf(fh: FileHandle, gz: boolean, length: number): Promise<Buffer> {
  return gz ? gzipPrefix(fh, length) : plainPrefix(fh, length);
}
