// Keeps the docs true: tables generated from code must match it, and every config key must be documented.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectors } from '../../connectors/index.ts';
import { EVENT_TYPES } from '../../src/model/event-types.ts';
import { mappings } from '../../mappings/index.ts';

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
