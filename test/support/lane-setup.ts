// A lane over an in-memory source and a scripted sink, recording its commits and dead letters — for engine tests.
import { canonicalMapping } from '../../mappings/canonical/index.ts';
import type { Mapping } from '../../src/contracts/mapping.ts';
import type { Position } from '../../src/contracts/source.ts';
import { silentLogger } from '../../src/logging.ts';
import type { DecodeResult } from '../../src/model/audit-event.ts';
import { Lane, type LaneOptions } from '../../src/pipeline/lane.ts';
import { createSelection } from '../../src/pipeline/selection.ts';
import { memorySource } from './memory-source.ts';
import { scriptedSink, type ScriptedSink } from './scripted-sink.ts';

/** `records` through a lane (batches of 2, 3 in flight, canonical mapping); `overrides` replace any option. */
export function laneSetup(records: DecodeResult[], overrides: Partial<Omit<LaneOptions, 'sink'>> & { sink?: ScriptedSink } = {}) {
  const commits: Array<{ position: Position; records: number }> = [];
  const dead: Array<Record<string, unknown>> = [];
  const sink = overrides.sink ?? scriptedSink();
  const lane = new Lane({
    route: 'r',
    sinkName: 's',
    source: memorySource(records),
    mapping: canonicalMapping as Mapping,
    selection: createSelection('all', []),
    batch: { maxEvents: 2, maxBytes: 1e6, maxAgeMs: 10_000 },
    maxInFlight: 3,
    retry: { initialDelayMs: 1, maxDelayMs: 5 },
    deadLetters: { append: (e) => dead.push(e as unknown as Record<string, unknown>) },
    commit: (position, n) => commits.push({ position, records: n }),
    from: undefined,
    logger: silentLogger(),
    ...overrides,
    sink,
  });
  return { lane, commits, dead, sink };
}
