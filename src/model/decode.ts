// Decoding entry points: one record, one line of text or one line's bytes, as Connect, CADF, or detected from its fields.
import { isUtf8 } from 'node:buffer';
import type { DecodeResult } from './audit-event.ts';
import { cadfField, decodeCadfRecord } from './decode-cadf.ts';
import type { CadfContext } from './decode-cadf.ts';
import { decodeConnectEvent } from './decode-connect.ts';
import { isJsonObject, nestingProblem } from './json.ts';
import type { JsonObject } from './json.ts';
import { DEFAULT_MAX_NESTING_DEPTH, mayNestDeeperThan, tooDeep } from './nesting.ts';

export { DEFAULT_MAX_NESTING_DEPTH, MAX_NESTING_DEPTH_LIMIT } from './nesting.ts';

export type InputFormat = 'connect' | 'cadf' | 'auto';

/** Facts about where a record was read (the service that wrote a CADF file), and the source's limits. */
export interface DecodeContext extends CadfContext {
  /**
   * Containers a record may nest, the record itself being depth 1 (a source's `maxNestingDepth`); a deeper
   * record is refused with code `FWD_DECODE_TOO_DEEP`. Default `DEFAULT_MAX_NESTING_DEPTH`.
   */
  readonly maxDepth?: number;
}

const NEITHER = 'neither a Cofide Connect event nor a CADF record';

function present(record: JsonObject, path: string): boolean {
  const f = cadfField(record, path);
  return !f.ok || f.value !== undefined;
}

/**
 * Which format a record is in, by its fields: `eventTime` or `action` (nested or flat) → CADF, else
 * `occurredAt` / `occurred_at` or `type` → Connect, else undefined.
 */
export function detectFormat(json: unknown): 'connect' | 'cadf' | undefined {
  if (!isJsonObject(json)) return undefined;
  if (present(json, 'eventTime') || present(json, 'action')) return 'cadf';
  if (present(json, 'occurredAt') || present(json, 'occurred_at') || present(json, 'type')) return 'connect';
  return undefined;
}

/** A decoder that threw: a bug, but one record's bug, which must not stop the route that read it. */
function failed(e: unknown): DecodeResult {
  return { ok: false, error: { path: '', reason: `the decoder failed on this record: ${e instanceof Error ? e.message : String(e)}`, code: 'FWD_DECODE_FAILED' } };
}

/** Decodes a value whose nesting is known to be within `maxDepth`. */
function decodeWithin(json: unknown, format: InputFormat, context: DecodeContext | undefined, maxDepth: number): DecodeResult {
  const f = format === 'auto' ? detectFormat(json) : format;
  switch (f) {
    case 'connect':
      // The base64 `data` payload is JSON text of its own, parsed there: it counts towards the same limit.
      return decodeConnectEvent(json, { maxDepth });
    case 'cadf':
      return decodeCadfRecord(json, context);
    default:
      return {
        ok: false,
        error: { path: '', reason: isJsonObject(json) ? NEITHER : `${NEITHER}: not a JSON object` },
      };
  }
}

/**
 * Decodes one parsed JSON value in the given format (`auto`: detected per record). A value nesting deeper
 * than `context.maxDepth` is refused (`FWD_DECODE_TOO_DEEP`), as is a Connect event whose base64 `data`
 * does once parsed. Never throws: a decoder failure is this record's (`FWD_DECODE_FAILED`).
 */
export function decodeRecord(json: unknown, format: InputFormat, context?: DecodeContext): DecodeResult {
  try {
    const maxDepth = context?.maxDepth ?? DEFAULT_MAX_NESTING_DEPTH;
    // A parsed object has no text to count brackets in: walked, which costs one visit of each member.
    const problem = nestingProblem(json, maxDepth);
    if (problem !== undefined) return tooDeep(problem, maxDepth);
    return decodeWithin(json, format, context, maxDepth);
  } catch (e) {
    return failed(e);
  }
}

/**
 * Decodes one line of text: JSON, then `decodeRecord`. A leading byte-order mark and surrounding whitespace
 * (a CR of CRLF line ends) are allowed; text that is not JSON is invalid at path ``. Never throws.
 */
export function decodeLine(line: string, format: InputFormat, context?: DecodeContext): DecodeResult {
  try {
    let json: unknown;
    try {
      json = JSON.parse(line.startsWith('\uFEFF') ? line.slice(1) : line);
    } catch (e) {
      return { ok: false, error: { path: '', reason: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` } };
    }
    const maxDepth = context?.maxDepth ?? DEFAULT_MAX_NESTING_DEPTH;
    // The per-event path: almost every line is shown shallow by its length or its brackets, without a walk.
    if (mayNestDeeperThan(line, maxDepth)) {
      const problem = nestingProblem(json, maxDepth);
      if (problem !== undefined) return tooDeep(problem, maxDepth);
    }
    return decodeWithin(json, format, context, maxDepth);
  } catch (e) {
    return failed(e);
  }
}

/**
 * Decodes one line's bytes (without its `\n`) as the daemon reads them: bytes that are not UTF-8 are
 * invalid at path ``, then `decodeLine` (a leading BOM and a trailing CR allowed). The jsonl and
 * audit-files sources and `audit-forwarder map` all read lines through this. Never throws.
 */
export function decodeLineBytes(body: Buffer, format: InputFormat, context?: DecodeContext): DecodeResult {
  return decodeLineBytesText(body, format, context).decoded;
}

/** `decodeLineBytes`, and the line as text (undefined when it is not UTF-8), for a source that hands it on. */
export function decodeLineBytesText(body: Buffer, format: InputFormat, context?: DecodeContext): { decoded: DecodeResult; text: string | undefined } {
  if (!isUtf8(body)) return { decoded: { ok: false, error: { path: '', reason: 'line is not valid UTF-8' } }, text: undefined };
  const text = body.toString('utf8');
  return { decoded: decodeLine(text, format, context), text };
}
