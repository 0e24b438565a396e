// Every metric family /metrics exposes is in docs/operations.md, and every one documented there exists.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics, METRIC_PREFIX } from '../../src/observe/metrics.ts';

const ROOT = join(import.meta.dirname, '../..');

describe('metrics documentation', () => {
  it('docs/operations.md names each metric family of the forwarder, and only those', async () => {
    const registry = createMetrics({ lanes: () => [], ready: () => false });
    const ours = (await registry.getMetricsAsJSON())
      .map((m) => m.name.slice(METRIC_PREFIX.length))
      // prom-client's process metrics are documented as a group.
      .filter((n) => !/^(process|nodejs)_/.test(n));
    const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Metrics'), doc.indexOf('## Logs'));
    const documented = new Set([...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!));
    const listedSourceCounters = new Set([...section.matchAll(/`([a-z_]+_total)`/g)].map((m) => `source_${m[1]!}`));
    for (const name of ours) expect(documented.has(name) || listedSourceCounters.has(name), `${name} documented`).toBe(true);
    for (const name of documented) expect(ours, `${name} exists`).toContain(name);
  });
});
