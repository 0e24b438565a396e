// A route's mappingOptions: passed to its sinks' mappings; a key none of them reads is a configuration error.
import { describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/index.ts';
import { parseConfig } from '../../src/config/loader.ts';
import { ConfigInvalidError } from '../../src/config/errors.ts';

const deps = {
  registry: connectors,
  mappingNames: ['canonical', 'hec-like'],
  mappingOptionKeys: { canonical: [], 'hec-like': ['sourcetype', 'index'] },
};
const yaml = (options: string) => `sources: { in: { type: jsonl, paths: [x.jsonl] } }
sinks:
  a: { type: file, path: a.jsonl, mapping: canonical }
  b: { type: discard, mapping: hec-like }
routes:
  r1: { from: in, to: [a, b], mappingOptions: ${options} }
  r2: { from: in, to: [a] }
`;

describe('routes.*.mappingOptions', () => {
  it('defaults to none and accepts the keys a sink mapping of the route reads', () => {
    const config = parseConfig(yaml('{ sourcetype: "cofide:connect:audit", index: audit }'), '/tmp/c.yaml', deps);
    expect(config.routes.r1!.mappingOptions).toEqual({ sourcetype: 'cofide:connect:audit', index: 'audit' });
    expect(config.routes.r2!.mappingOptions).toEqual({});
  });

  it('refuses a key none of the route sinks reads, and a value that is not a string', () => {
    let error: unknown;
    try {
      parseConfig(yaml('{ sourcetyp: x, index: 5 }'), '/tmp/c.yaml', deps);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).errors).toEqual([
      'routes.r1.mappingOptions.index: expected a string, got 5',
      "routes.r1.mappingOptions.sourcetyp: unknown key (this route's mapping canonical, mapping hec-like read only: index, sourcetype)",
    ]);
  });
});
