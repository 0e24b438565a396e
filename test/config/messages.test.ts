// What a bad configuration says: one message per mistake (none spurious), a YAML error's line with secrets masked, a HEC URL with the endpoint in it.
import { describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/index.ts';
import { mappingNames, mappingOptionKeys } from '../../mappings/index.ts';
import { ConfigInvalidError } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/loader.ts';

const deps = { registry: connectors, mappingNames, mappingOptionKeys, env: {} };

/** The report lines of an invalid configuration text (it must be invalid). */
function errorsOf(text: string): readonly string[] {
  try {
    parseConfig(text, '/etc/af/config.yaml', deps);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigInvalidError);
    return (e as ConfigInvalidError).errors;
  }
  throw new Error('the configuration was accepted');
}

/** One jsonl source, the given sinks, and a route from it to `to` with Splunk's mapping options. */
const withSinks = (sinks: string, to = 'siem', options = '{ index: audit, sourcetype: "cofide:audit" }') => `sources:
  in: { type: jsonl, paths: [in.jsonl] }
sinks:
${sinks}
routes:
  r: { from: in, to: ${to}, mappingOptions: ${options} }
`;

describe('a sink mistake is reported once, without spurious mappingOptions errors', () => {
  // Each: a common mistake in a sink (or in the route's reference to it), and exactly what is reported.
  const cases: [string, string, string, string[]][] = [
    [
      'a HEC URL without its scheme',
      '  siem: { type: splunk-hec, url: "splunk.example.com:8088", token: t }',
      'siem',
      ['sinks.siem.url: expected an https:// or http:// URL, got "splunk.example.com:8088"'],
    ],
    ['a HEC sink without a token', '  siem: { type: splunk-hec, url: "https://splunk.example.com:8088" }', 'siem', ['sinks.siem.token: missing key (set token or tokenFile)']],
    [
      'a misspelt HEC key',
      '  siem: { type: splunk-hec, url: "https://splunk.example.com:8088", token: t, acks: { mode: off } }',
      'siem',
      ['sinks.siem.acks: unknown key (expected one of: type, mapping, url, path, gzip, concurrency, timeout, tls, ack, search, token, tokenFile)'],
    ],
    [
      'a HEC sink given another mapping',
      '  siem: { type: splunk-hec, url: "https://splunk.example.com:8088", token: t, mapping: ecs }',
      'siem',
      ['sinks.siem.mapping: expected splunk-hec, got "ecs"'],
    ],
    [
      'a misspelt Elasticsearch key',
      '  siem: { type: elasticsearch, url: "https://es.example.com:9200", indx: audit }',
      'siem',
      ['sinks.siem.indx: unknown key (expected one of: type, mapping, url, cloudId, auth, namespace, index, pipeline, tls, http)'],
    ],
    [
      'a sink type that does not exist',
      '  siem: { type: splunk, url: "https://splunk.example.com:8088" }',
      'siem',
      ['sinks.siem.type: expected one of discard, elasticsearch, file, otlp, splunk-hec, stdout, syslog, got "splunk"'],
    ],
    ['an unknown mapping', '  siem: { type: file, path: out.jsonl, mapping: splunk }', 'siem', ['sinks.siem.mapping: expected one of canonical, cef, ecs, otlp-json, splunk-hec, got "splunk"']],
    [
      'a route to a sink that is not defined',
      '  siem: { type: splunk-hec, url: "https://splunk.example.com:8088", token: t }',
      '[siem, archive]',
      ['routes.r.to[1]: expected a sink name (one of: siem), got "archive"'],
    ],
  ];

  it.each(cases)('%s', (_, sinks, to, expected) => {
    expect(errorsOf(withSinks(sinks, to))).toEqual(expected);
  });

  it('a key that no valid sink of the route reads is still reported, with what they read', () => {
    const sinks = '  siem: { type: splunk-hec, url: "https://splunk.example.com:8088", token: t }';
    expect(errorsOf(withSinks(sinks, 'siem', '{ index: audit, sourcetyp: x }'))).toEqual([
      "routes.r.mappingOptions.sourcetyp: unknown key (this route's mapping splunk-hec read only: host, index, source, sourcetype)",
    ]);
  });

  it('the same keys are accepted once the sink is right', () => {
    const config = parseConfig(withSinks('  siem: { type: splunk-hec, url: "https://splunk.example.com:8088", token: t }'), '/etc/af/config.yaml', deps);
    expect(config.routes.r!.mappingOptions).toEqual({ index: 'audit', sourcetype: 'cofide:audit' });
  });
});

describe('a YAML syntax error shows its line, with secrets masked', () => {
  it('shows the line and a caret under the column', () => {
    const errors = errorsOf('sources:\n  in: { type: jsonl, paths: [in.jsonl] }\nsinks:\n  out: { type: stdout\nroutes:\n  r: { from: in, to: out }\n');
    expect(errors.slice(0, 3)).toEqual([
      'line 4, column 8: Flow map in block collection must be sufficiently indented and end with a }',
      '  |   out: { type: stdout',
      '  |        ^',
    ]);
  });

  it('masks the value of a secret-looking key on the line shown, and points at the quote that is never closed', () => {
    const line = '  hec: { type: splunk-hec, url: "https://splunk.example.com:8088", token: "s3cr3t-value';
    const errors = errorsOf(`sinks:\n${line}\nroutes: {}\n`);
    const shown = '  hec: { type: splunk-hec, url: "https://splunk.example.com:8088", token: ***';
    // Reported where the quote opens (the parser says: at the end of the text).
    expect(errors.slice(0, 3)).toEqual([
      `line 2, column ${line.indexOf('"s3cr3t') + 1}: Missing closing "quote`,
      `  | ${shown}`,
      `  | ${' '.repeat(shown.indexOf('***'))}^`,
    ]);
    expect(errors.join('\n')).not.toContain('s3cr3t');
  });

  it('masks every secret-looking key, in any case, whatever the parser made of the line', () => {
    const keys = ['password', 'hecToken', 'clientSecret', 'apiKey', 'Authorization', 'credentials', 'connectionString', 'TOKEN'];
    for (const key of keys) {
      // A tab as indentation: the line is an error, and the parser does not see a key and a value in it.
      const errors = errorsOf(`sources:\n\t${key}: s3cr3t-value # comment\n`);
      expect(errors[1], key).toBe(`  | ${' '}${key}: ***`);
      expect(errors.join('\n'), key).not.toContain('s3cr3t');
    }
  });

  it('masks a secret on every line its value spans', () => {
    const errors = errorsOf(['sources:', '  db:', '    password: "first-half', '      s3cr3t-second-half" x: [', ''].join('\n'));
    expect(errors.slice(0, 6)).toEqual([
      'line 3, column 15: Nested mappings are not allowed in compact mappings',
      '  |     password: ***',
      '  |               ^',
      'line 3, column 15: Implicit keys need to be on a single line',
      'line 4, column 27: Unexpected scalar token',
      // The second line of the quoted password: masked whole, caret at the mask.
      '  | ***',
    ]);
    expect(errors.join('\n')).not.toContain('s3cr3t');
  });

  it('masks the user-info of a URL, under any key', () => {
    const errors = errorsOf(['sources:', '  db:', '    password: |', '      s3cr3t-block', '     url: postgres://forwarder:s3cr3t@db:5432/connect', ''].join('\n'));
    expect(errors.slice(0, 3)).toEqual(['line 5, column 1: All mapping items must start at the same column', '  |      url: postgres://***@db:5432/connect', '  | ^']);
    expect(errors.join('\n')).not.toContain('s3cr3t');
  });

  it('shows a value that only names a variable, but not one with a default, which may be a secret', () => {
    expect(errorsOf('sinks:\n  hec: { type: splunk-hec, token: ${HEC_TOKEN} }\n')[1]).toBe('  |   hec: { type: splunk-hec, token: ${HEC_TOKEN} }');
    const errors = errorsOf('sinks:\n  hec: { type: splunk-hec, token: ${HEC_TOKEN:-s3cr3t} }\n');
    expect(errors[1]).toBe('  |   hec: { type: splunk-hec, token: ***');
    expect(errors.join('\n')).not.toContain('s3cr3t');
  });

  it('keeps what is not a secret, and shortens a long line around the column', () => {
    const long = `  out: { type: file, path: ${'x'.repeat(200)}.jsonl, mapping: canonical, tokenFile: /run/token ]`;
    const errors = errorsOf(`sinks:\n${long}\n`);
    const [line, caret] = [errors[1]!, errors[2]!];
    expect(line.length).toBeLessThanOrEqual('  | '.length + 122);
    expect(line).toMatch(/^ {2}\| …x+\.jsonl, mapping: canonical, tokenFile: \/run\/token ]$/);
    expect(caret.indexOf('^')).toBe(line.indexOf(']'));
  });
});

describe('splunk-hec url', () => {
  const hec = (url: string) => withSinks(`  siem: { type: splunk-hec, url: "${url}", token: t }`);

  it.each([
    ['https://splunk.example.com:8088/services/collector/event', 'https://splunk.example.com:8088'],
    ['https://splunk.example.com:8088/services/collector/event/', 'https://splunk.example.com:8088'],
    ['https://splunk.example.com:8088/services/collector', 'https://splunk.example.com:8088'],
    ['https://splunk.example.com:8088/services/collector/', 'https://splunk.example.com:8088'],
    ['https://splunk.example.com:8088/services/collector/raw', 'https://splunk.example.com:8088'],
    ['https://splunk.example.com:8088/services/collector/event/1.0', 'https://splunk.example.com:8088'],
    ['https://lb.example.com/splunk/services/collector/event', 'https://lb.example.com/splunk'],
  ])('%s is refused, naming the URL to use', (url, base) => {
    expect(errorsOf(hec(url))).toEqual([
      `sinks.siem.url: expected the base URL of the HEC listener (such as https://splunk.example.com:8088), got ${JSON.stringify(url)}: ` +
        `the sink adds /services/collector/event (its \`path\`) and the ack and health endpoints itself; use ${JSON.stringify(base)}`,
    ]);
  });

  it.each(['https://splunk.example.com:8088', 'https://splunk.example.com:8088/', 'https://lb.example.com/splunk', 'https://lb.example.com/services/collectors'])(
    '%s is a base URL',
    (url) => {
      const config = parseConfig(hec(url), '/etc/af/config.yaml', deps);
      expect(config.sinks.siem!['url']).toBe(url);
    },
  );
});
