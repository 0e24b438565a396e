// The `file` sink: appends one mapped record per line to a file and fsyncs before reporting delivery.
import { access, constants, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { CheckResult, Sink, SinkBatch } from '../../src/contracts/sink.ts';
import type { FileSinkConfig } from './config.ts';
import { classifyFileError } from './classify.ts';
import { jsonLines } from '../../src/delivery/encode.ts';

export function createFileSink(name: string, config: FileSinkConfig, context: ConnectorContext): Sink {
  const path = isAbsolute(config.path) ? config.path : resolve(context.baseDir, config.path);
  let handle: FileHandle | undefined;
  // One opening shared by check() and sends running at once: a second open would leak a handle and re-read
  // `size` while a batch is being written.
  let opening: Promise<FileHandle> | undefined;
  // Size of the file made only of whole batches: a failed write is cut back to it, so no torn line stays.
  let size = 0;
  let queue: Promise<unknown> = Promise.resolve();

  async function openFile(): Promise<FileHandle> {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, 'a+', 0o640);
    size = await wholeLinesSize(fh);
    if (size < (await fh.stat()).size) {
      // A crash cut the last batch short: its records were never committed (they will be sent again), and
      // appending after the fragment would glue two records into one corrupt line.
      await fh.truncate(size);
      await fh.sync();
      context.logger.warn({ sink: name, file: path, size }, 'cut a torn last line left by a crash from the output file');
    }
    handle = fh;
    return fh;
  }

  function ensureOpen(): Promise<FileHandle> {
    if (handle !== undefined) return Promise.resolve(handle);
    opening ??= openFile().finally(() => (opening = undefined));
    return opening;
  }

  async function write(batch: SinkBatch): Promise<SendOutcome> {
    let fh: FileHandle | undefined;
    try {
      fh = await ensureOpen();
      const data = jsonLines(batch.records);
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await fh.write(data, written, data.length - written);
        written += bytesWritten;
      }
      if (config.fsync) await fh.sync();
      size += data.length;
      return { status: 'delivered' };
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      if (fh !== undefined) {
        await fh.truncate(size).catch(async () => {
          // The handle itself is broken: reopen next time (the next open re-reads the size).
          await fh!.close().catch(() => undefined);
          handle = undefined;
        });
      }
      return classifyFileError(e, path);
    }
  }

  return {
    type: 'file',
    name,
    strength: config.fsync
      ? { level: 'acknowledged', detail: 'each batch is fsynced before it counts as delivered' }
      : { level: 'accepted', detail: 'written to the page cache, not fsynced (fsync: false): a machine crash can lose the last batches' },
    send(batch: SinkBatch): Promise<SendOutcome> {
      const result = queue.then(() => write(batch));
      queue = result.catch(() => undefined);
      return result;
    },
    async check(): Promise<CheckResult> {
      // Without side effects: the file and its directories are created by the first delivery, not by a check.
      try {
        const s = await stat(path).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
        if (s !== undefined) {
          if (!s.isFile()) return { ok: false, detail: `${path} exists and is not a regular file` };
          await access(path, constants.W_OK);
          return { ok: true, detail: `appending to ${path} (${s.size} bytes)` };
        }
        let dir = dirname(path);
        for (;;) {
          const d = await stat(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
          if (d !== undefined) {
            if (!d.isDirectory()) return { ok: false, detail: `cannot create ${path}: ${dir} is not a directory` };
            await access(dir, constants.W_OK);
            return { ok: true, detail: `${path} will be created (in ${dir})` };
          }
          if (dirname(dir) === dir) return { ok: false, detail: `cannot create ${path}: no existing parent directory` };
          dir = dirname(dir);
        }
      } catch (error) {
        return { ok: false, detail: `cannot append to ${path}: ${(error as Error).message}` };
      }
    },
    async close(): Promise<void> {
      await queue;
      await opening?.catch(() => undefined);
      const fh = handle;
      handle = undefined;
      await fh?.close();
    },
  };
}

/** The size of the file up to and including its last newline (0 when it has none). */
async function wholeLinesSize(fh: FileHandle): Promise<number> {
  const { size } = await fh.stat();
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await fh.read(chunk, 0, end - start, start);
    const nl = chunk.subarray(0, bytesRead).lastIndexOf(10);
    if (nl !== -1) return start + nl + 1;
    end = start;
  }
  return 0;
}
