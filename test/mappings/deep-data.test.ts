// Every registered mapping, and its encoded output, given event data nested far deeper than a call stack: never a throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mappings } from '../../mappings/index.ts';
import type { MapResult, Mapping } from '../../src/contracts/mapping.ts';
import { ECS_OPTIONS } from '../../mappings/ecs/index.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { toJsonLine, type JsonValue } from '../../src/model/json.ts';
import { cadfEvent, connectEvent } from '../support/events.ts';
import { DEEP, deepValue, deepValueArbitrary, depthOf } from '../support/deep-json.ts';

const OBSERVED = '2026-05-12T08:00:01.000000Z';

/** The route options that make each mapping carry the most of the event (ECS: the original record too). */
const OPTIONS: Readonly<Record<string, Record<string, string>>> = { ecs: { [ECS_OPTIONS.eventOriginal]: 'true' } };

/**
 * How deep the payload inside a parsed output is: OTLP carries it as JSON text in an attribute, the
 * other JSON formats as a member, one level below the envelope (or more).
 */
function carriedDepth(output: unknown): number {
  const attributes = (output as { logRecord?: { attributes?: { key: string; value: { stringValue?: string } }[] } }).logRecord?.attributes;
  if (attributes !== undefined) {
    const text = attributes.find((a) => a.key === 'cofide.data' || a.key === 'ibm.cadf.request_data')?.value.stringValue;
    return text === undefined ? 0 : depthOf(JSON.parse(text));
  }
  const o = output as { event?: { data?: unknown }; data?: unknown; cofide?: { data?: unknown }; ibm?: { cadf?: { request_data?: unknown } } };
  return depthOf(o.data ?? o.event?.data ?? o.cofide?.data ?? o.ibm?.cadf?.request_data);
}

/** Encodes a mapped value as the engine does (src/pipeline/lane.ts). */
const encode = (encoding: 'json' | 'text', value: unknown): string => (encoding === 'json' ? toJsonLine(value) : String(value));

/** Maps an event carrying `data` and encodes the result as the engine would; fails the test on a throw. */
function mapAndEncode(mapping: Mapping, data: JsonValue, connect: boolean): void {
  const event: AuditEvent = connect ? connectEvent({ data, raw: { data } }) : cadfEvent({ data, raw: { requestData: data } });
  let result: MapResult | undefined;
  expect(() => (result = mapping.map(event, { observedTime: OBSERVED, ...OPTIONS[mapping.name] }))).not.toThrow();
  if (result?.kind !== 'mapped') throw new Error(`expected the event to map, got ${JSON.stringify(result)}`);
  const value = result.value;
  let text = '';
  expect(() => (text = encode(mapping.encoding, value))).not.toThrow();
  expect(text).not.toMatch(/[\n\r\u2028\u2029]/);
  // The payload is all there (CEF cuts it to its field limit, by design).
  if (mapping.encoding === 'text') expect(text).toContain('cs5=');
  else expect(carriedDepth(JSON.parse(text))).toBe(depthOf(data));
}

describe.each([...mappings.values()].map((m) => [m.name, m] as const))('%s with deep event data', (_name, mapping) => {
  // Built directly, past the decoders' limit: a mapping must not depend on that limit to be total.
  it(`maps data nested ${DEEP} levels deep without throwing, and its encoded output never throws`, () => {
    const data = deepValue({ levels: DEEP, seed: 1, leaf: 'x', wide: 0 }) as JsonValue;
    mapAndEncode(mapping, data, true);
    mapAndEncode(mapping, data, false);
  });

  it('the same for arbitrary deep and wide data', () => {
    fc.assert(
      fc.property(deepValueArbitrary({ minDepth: 20_000, maxDepth: DEEP }), fc.boolean(), (shape, connect) => {
        mapAndEncode(mapping, deepValue(shape) as JsonValue, connect);
      }),
      { numRuns: 5 },
    );
  });
});
