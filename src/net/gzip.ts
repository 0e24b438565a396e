// gzip of request bodies on the thread pool, so compressing a large batch does not stall the event loop.
import { promisify } from 'node:util';
import { constants, gzip as zlibGzip } from 'node:zlib';

const gzipAsync = promisify(zlibGzip);

/** The body gzipped at the default level (`Content-Encoding: gzip`), computed on libuv's thread pool. */
export function gzip(body: Buffer | string): Promise<Buffer> {
  return gzipAsync(body, { level: constants.Z_DEFAULT_COMPRESSION });
}
