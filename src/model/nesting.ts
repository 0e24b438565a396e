// The nesting limit of decoded records: its default and bounds, the cheap test of a line, and the refusal it gives.
import type { InvalidRecord } from './audit-event.ts';
import type { NestingProblem } from './json.ts';

/**
 * Containers a record may nest (the record itself is depth 1), unless a source's `maxNestingDepth` says
 * otherwise. The same as serde_json's default recursion limit (the JSON parser of Rust pipelines such as
 * Vector), so a record this forwarder passes on is one they can parse; real audit records nest a few levels.
 */
export const DEFAULT_MAX_NESTING_DEPTH = 128;

/**
 * The highest `maxNestingDepth` a configuration may set. Decoded events go on to code that is recursive
 * by nature (V8's JSON.stringify and structuredClone throw a RangeError at about 10,000 levels; mappings
 * nest the payload a few levels further down): a tenth of that keeps every such step far from the edge.
 */
export const MAX_NESTING_DEPTH_LIMIT = 1000;

/**
 * False when JSON `text` certainly nests at most `maxDepth` containers: it cannot nest deeper than the `{`
 * and `[` it holds (in strings or not), nor than half its length. True means "walk the parsed value": the
 * count stops as soon as it passes the limit, so a shallow line costs one scan at most, a short one nothing.
 */
export function mayNestDeeperThan(text: string, maxDepth: number): boolean {
  if (text.length >> 1 <= maxDepth) return false;
  // indexOf scans are vectorised in V8: a few calls per line beat a loop over every character.
  let open = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++open > maxDepth) return true;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++open > maxDepth) return true;
  return false;
}

/** The refusal of a record that nests deeper than `maxDepth`. */
export function tooDeep(problem: NestingProblem, maxDepth: number): { readonly ok: false; readonly error: InvalidRecord } {
  return {
    ok: false,
    error: {
      path: problem.path,
      reason: `nested deeper than maxNestingDepth (${maxDepth}): ${problem.depth} levels of objects and arrays`,
      code: 'FWD_DECODE_TOO_DEEP',
    },
  };
}
