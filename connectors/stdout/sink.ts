// The `stdout` sink: writes one mapped record per line to standard output (logs go to stderr).
import type { Writable } from 'node:stream';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { CheckResult, Sink, SinkBatch } from '../../src/contracts/sink.ts';
import type { StdoutSinkConfig } from './config.ts';

/** `out` is replaceable for tests; delivery means the bytes were handed to the pipe (there is no fsync for it). */
export function createStdoutSink(name: string, _config: StdoutSinkConfig, out: Writable = process.stdout): Sink {
  return {
    type: 'stdout',
    name,
    send(batch: SinkBatch): Promise<SendOutcome> {
      let text = '';
      for (const r of batch.records) text += `${r.payload}\n`;
      return new Promise((resolve) => {
        out.write(text, (error) => {
          if (error === undefined || error === null) resolve({ status: 'delivered' });
          // A closed pipe never reopens: the reader went away.
          else if ((error as NodeJS.ErrnoException).code === 'EPIPE') resolve({ status: 'rejected', scope: 'sink', reason: 'standard output was closed (EPIPE)' });
          else resolve({ status: 'retryable', reason: `standard output: ${error.message}` });
        });
      });
    },
    check: async (): Promise<CheckResult> => ({ ok: out.writable, detail: out.writable ? 'standard output is writable' : 'standard output is closed' }),
    close: async () => undefined,
  };
}
