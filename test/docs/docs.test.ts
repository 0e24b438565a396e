// Keeps the docs true: tables generated from code must match it, and every config key must be documented.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectors } from '../../connectors/index.ts';
import { EVENT_TYPES } from '../../src/model/event-types.ts';
import { mappings } from '../../mappings/index.ts';
import { classify, VERB_RULES } from '../../mappings/common/taxonomy.ts';
import { connectEvent } from '../support/memory-source.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(resolve(ROOT, p), 'utf8');

function keysOf(schema: unknown): string[] {
  const s = schema as z.ZodObject;
  return Object.keys(s.shape ?? {});
}

describe('docs', () => {
  it('docs/mappings.md lists the 34 Connect event types exactly as the catalog defines them', () => {
    const doc = read('docs/mappings.md');
    const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d+) \| ([a-z_]+) \| ([a-z_]+) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3], m[4], m[5]]);
    expect(rows).toEqual(EVENT_TYPES.map((t) => [t.name, t.number, t.entity, t.change, t.description]));
    expect(rows).toHaveLength(34);
  });

  it('docs/mappings.md states the classification of every Connect type and every verb rule as the code computes them', () => {
    const doc = read('docs/mappings.md');
    for (const t of EVENT_TYPES) {
      const ok = classify(connectEvent(1, { type: t.name, outcome: 'success', links: [{ type: t.entity, id: 'x' }] }));
      const no = classify(connectEvent(1, { type: t.name, outcome: 'denied', links: [] }));
      const row = `| \`${t.name}\` | ${ok.verb} | ${ok.ecsCategories.join(', ')} | ${ok.ecsTypes.join(', ')} | ${ok.cimModel} | ${ok.cimAction ?? '—'} | ${ok.cimChangeType} | ${ok.severity} | ${no.severity} |`;
      expect(doc, t.name).toContain(row);
    }
    for (const [verb, r] of Object.entries(VERB_RULES)) {
      const action = r.cimChangeAction ?? (r.cimModel === 'Authentication' ? 'success / failure' : '—');
      expect(doc, verb).toContain(`| ${verb} | ${r.baseSeverity} | ${r.ecsType} | ${r.ecsCategory ?? '—'} | ${r.cimModel} | ${action} |`);
    }
  });

  it('every registered mapping is documented with its version', () => {
    const doc = read('docs/mappings.md');
    for (const m of mappings.values()) expect(doc).toContain(`| \`${m.name}\` | ${m.version} |`);
  });

  it('every key of every connector schema is documented in docs/configuration.md and in the connector README', () => {
    const config = read('docs/configuration.md');
    for (const c of [...connectors.sources.values(), ...connectors.sinks.values()]) {
      const readme = read(`connectors/${c.type}/README.md`);
      for (const key of keysOf(c.schema)) {
        expect(config, `docs/configuration.md: ${c.type}.${key}`).toMatch(new RegExp(`\\| \`${key}\` \\|`));
        expect(readme, `connectors/${c.type}/README.md: ${key}`).toMatch(new RegExp(`\\| \`${key}\` \\|`));
      }
    }
  });

  it('README links only to files that exist', () => {
    const readme = read('README.md');
    for (const [, link] of readme.matchAll(/\]\(([^)#]+)\)/g)) expect(() => read(link!), link).not.toThrow();
  });
});
