// The `canonical` mapping: the AuditEvent itself, as JSON — the forwarder's own lossless format.
import type { Mapping } from '../../src/contracts/mapping.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';

export const canonicalMapping: Mapping<AuditEvent> = {
  name: 'canonical',
  version: '1',
  encoding: 'json',
  options: [],
  map: (event) => ({ kind: 'mapped', value: event }),
};
