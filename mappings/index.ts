// The mapping registry: every output format by the name the configuration uses.
import type { Mapping } from '../src/contracts/mapping.ts';
import { canonicalMapping } from './canonical/index.ts';
import { cefMapping } from './cef/index.ts';
import { ecsMapping } from './ecs/index.ts';
import { otlpJsonMapping } from './otlp/index.ts';
import { splunkHecMapping } from './splunk-hec/index.ts';

export const mappings: ReadonlyMap<string, Mapping> = new Map<string, Mapping>(
  [canonicalMapping, splunkHecMapping, ecsMapping, cefMapping, otlpJsonMapping].map((m) => [m.name, m as Mapping]),
);

export const mappingNames: readonly string[] = [...mappings.keys()];

/** The route `mappingOptions` keys each mapping reads, for configuration checks. */
export const mappingOptionKeys: Readonly<Record<string, readonly string[]>> = Object.fromEntries([...mappings].map(([n, m]) => [n, m.options]));

export function getMapping(name: string): Mapping {
  const m = mappings.get(name);
  if (m === undefined) throw new TypeError(`no mapping named ${name} (known: ${mappingNames.join(', ')})`);
  return m;
}
