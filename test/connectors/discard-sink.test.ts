// The `discard` sink: conformance (it keeps nothing, so the cases about the destination's contents are skipped).
import { createDiscardSink } from '../../connectors/discard/sink.ts';
import { describeSinkConformance } from '../support/sink-conformance.ts';

describeSinkConformance('discard', {
  holds: 'nothing',
  failures: [],
  checkProbes: true,
  strength: 'best-effort',
  refuses: 'never',
  create: async () => ({ sink: createDiscardSink('discard', { type: 'discard', mapping: 'canonical' }) }),
});
