// The `stdout` sink: conformance on a slow pipe, a PassThrough read back, and a reader that goes away (EPIPE).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createStdoutSink } from '../../connectors/stdout/sink.ts';
import { describeSinkConformance, testBatch } from '../support/sink-conformance.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
const WRITER = path.join(ROOT, 'test', 'support', 'stdout-sink-writer.ts');
const config = { type: 'stdout', mapping: 'canonical' } as const;
const never = new AbortController().signal;

/** A pipe whose reader takes each chunk a turn of the event loop later, like a real one under load. */
function slowReader(): { out: Writable; held: () => Promise<Buffer> } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    highWaterMark: 4096,
    write(chunk: Buffer, _encoding, callback) {
      setImmediate(() => {
        chunks.push(chunk);
        callback();
      });
    },
  });
  return { out, held: async () => Buffer.concat(chunks) };
}

/** The write end of a real pipe whose reader has closed it: writes fail with EPIPE. */
async function pipeNobodyReads(): Promise<{ child: ChildProcess; out: Writable }> {
  const child = spawn('sh', ['-c', 'exec 0<&-; echo ready; exec sleep 60'], { stdio: ['pipe', 'pipe', 'ignore'] });
  await new Promise((resolve) => child.stdout!.once('data', resolve));
  return { child, out: child.stdin! };
}

describeSinkConformance('stdout', {
  holds: 'lines',
  failures: [],
  // Nothing tells a pipe's writer that its reader left until it writes.
  checkProbes: false,
  strength: 'accepted',
  refuses: 'never',
  async create() {
    const { out, held } = slowReader();
    return { sink: createStdoutSink('stdout', config, out), held };
  },
  async createUnusable() {
    const { child, out } = await pipeNobodyReads();
    return {
      sink: createStdoutSink('stdout', config, out),
      dispose: async () => {
        child.kill();
      },
    };
  },
});

describe('stdout sink', () => {
  it('writes one record per line to a PassThrough, read back as a stream', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const sink = createStdoutSink('stdout', config, out);
    const b = testBatch(1, 3);
    expect(await sink.send(b, never)).toEqual({ status: 'delivered' });
    await sink.close();
    expect(Buffer.concat(chunks).toString('utf8')).toBe(b.records.map((r) => `${r.payload}\n`).join(''));
  });

  it('a real process whose standard output reader went away gets rejected, scope sink, and does not crash', async () => {
    const child = spawn(NODE, [WRITER], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.end('go\n');
    expect(await exited).toBe(0);
    const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      { status: 'rejected', scope: 'sink', reason: expect.stringContaining('EPIPE') },
      { status: 'rejected', scope: 'sink', reason: expect.any(String) },
      { ok: false, detail: expect.any(String) },
    ]);
  });

  it.each([
    ['destroyed', (s: Writable) => s.destroy()],
    ['ended', (s: Writable) => s.end()],
  ])('a stream already %s refuses with scope sink, not retryable', async (_, close) => {
    const { out } = slowReader();
    close(out);
    const sink = createStdoutSink('stdout', config, out);
    expect(await sink.send(testBatch(1, 1), never)).toMatchObject({ status: 'rejected', scope: 'sink' });
    expect(await sink.check()).toMatchObject({ ok: false });
    await sink.close();
  });

  it('a send held back by a reader that stopped reading ends retryable when its signal aborts, and close() does not wait for it', async () => {
    const out = new Writable({ write: () => undefined }); // never calls back
    const sink = createStdoutSink('stdout', config, out);
    const stop = new AbortController();
    const sent = sink.send(testBatch(1, 1), stop.signal);
    stop.abort();
    expect(await sent).toMatchObject({ status: 'retryable' });
    await sink.close();
    const aborted = new AbortController();
    aborted.abort();
    expect(await sink.send(testBatch(2, 1), aborted.signal)).toMatchObject({ status: 'retryable' });
  });
});
