// Event selection follows Connect's enabledEvents / disabledEvents semantics.
import { describe, expect, it } from 'vitest';
import { createSelection } from '../../src/pipeline/selection.ts';
import { connectEvent } from '../support/memory-source.ts';

const ev = (type: string) => connectEvent(1, { type });
const cadf = connectEvent(1, { type: 'authenticate', origin: { kind: 'ibm-cadf', product: 'ibm-platform' } });

describe('selection', () => {
  it('all selects every Connect type, unknown types and CADF records', () => {
    const s = createSelection('all', []);
    expect([ev('trust_zone_creation'), ev('unknown_99'), cadf].map((e) => s.selects(e))).toEqual([true, true, true]);
    expect(s.includeTypes).toBeUndefined();
  });
  it('disabledEvents removes types from all', () => {
    const s = createSelection('all', ['node_attestation', 'node_pruning']);
    expect(s.selects(ev('node_attestation'))).toBe(false);
    expect(s.selects(ev('node_pruning'))).toBe(false);
    expect(s.selects(ev('node_deletion'))).toBe(true);
    expect(s.selects(cadf)).toBe(true);
    expect(s.excludeTypes).toEqual(['node_attestation', 'node_pruning']);
  });
  it('an explicit list selects exactly those types', () => {
    const s = createSelection(['trust_zone_creation', 'trust_zone_update'], []);
    expect(s.selects(ev('trust_zone_creation'))).toBe(true);
    expect(s.selects(ev('trust_zone_deletion'))).toBe(false);
    expect(s.selects(ev('unknown_99'))).toBe(false);
    expect(s.selects(cadf)).toBe(false);
  });
  it('disabledEvents wins over an explicit enabled entry', () => {
    const s = createSelection(['trust_zone_creation', 'node_attestation'], ['node_attestation']);
    expect(s.selects(ev('node_attestation'))).toBe(false);
    expect(s.includeTypes).toEqual(['trust_zone_creation']);
  });
});
