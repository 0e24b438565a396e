// The `discard` sink: accepts every batch and keeps nothing — for benchmarks and for measuring a source alone.
import type { CheckResult, Sink } from '../../src/contracts/sink.ts';
import type { DiscardSinkConfig } from './config.ts';

export function createDiscardSink(name: string, _config: DiscardSinkConfig): Sink {
  return {
    type: 'discard',
    name,
    strength: { level: 'best-effort', detail: 'keeps nothing' },
    send: async () => ({ status: 'delivered' }),
    check: async (): Promise<CheckResult> => ({ ok: true, detail: 'discards everything it is sent' }),
    close: async () => undefined,
  };
}
