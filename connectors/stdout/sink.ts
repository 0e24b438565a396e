// The `stdout` sink: writes one mapped record per line to standard output (logs go to stderr).
import type { Writable } from 'node:stream';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { CheckResult, Sink, SinkBatch } from '../../src/contracts/sink.ts';
import { jsonLines } from '../../src/delivery/encode.ts';
import type { StdoutSinkConfig } from './config.ts';

/** Write errors after which the stream never takes data again: the reader went away, or the stream is gone. */
const CLOSED = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

// A failed write is also emitted as an 'error' event, which kills the process when nothing listens (a reader
// going away — EPIPE — would crash the forwarder instead of stopping the route). The write callback reports
// the error; this listener only keeps the event from being fatal. One per stream, however many sinks.
const guarded = new WeakSet<Writable>();
function guard(out: Writable): void {
  if (guarded.has(out)) return;
  guarded.add(out);
  out.on('error', () => undefined);
}

/** `out` is replaceable for tests; delivery means the bytes were handed to the pipe (there is no fsync for it). */
export function createStdoutSink(name: string, _config: StdoutSinkConfig, out: Writable = process.stdout): Sink {
  guard(out);
  const sending = new Set<Promise<SendOutcome>>();
  // process.stdout stays `writable` after EPIPE, so the sink remembers that its reader went away.
  let closedBy: string | undefined;
  return {
    type: 'stdout',
    name,
    strength: { level: 'accepted', detail: 'handed to the pipe; what the reader does with it is not confirmed' },
    send(batch: SinkBatch, signal: AbortSignal): Promise<SendOutcome> {
      const text = jsonLines(batch.records);
      const sent = new Promise<SendOutcome>((resolve) => {
        // A reader that stops reading holds the write callback back for ever; the signal lets the engine give up.
        const onAbort = () => resolve({ status: 'retryable', reason: 'standard output: send abandoned before the reader took it' });
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        out.write(text, (error) => {
          signal.removeEventListener('abort', onAbort);
          const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
          if (error === undefined || error === null) resolve({ status: 'delivered' });
          else if (code !== undefined && CLOSED.has(code)) {
            closedBy = code;
            resolve({ status: 'rejected', scope: 'sink', reason: `standard output was closed (${code})` });
          }
          else resolve({ status: 'retryable', reason: `standard output: ${error.message}` });
        });
      });
      sending.add(sent);
      void sent.then(() => sending.delete(sent));
      return sent;
    },
    async check(): Promise<CheckResult> {
      if (closedBy !== undefined) return { ok: false, detail: `standard output was closed (${closedBy})` };
      return { ok: out.writable, detail: out.writable ? 'standard output is writable' : 'standard output is closed' };
    },
    async close(): Promise<void> {
      await Promise.all(sending);
    },
  };
}
