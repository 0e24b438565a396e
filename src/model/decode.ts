// Decoding entry points: one record or one line of text, as Connect, CADF, or detected from its fields.
import type { DecodeResult } from './audit-event.ts';
import { cadfField, decodeCadfRecord } from './decode-cadf.ts';
import type { CadfContext } from './decode-cadf.ts';
import { decodeConnectEvent } from './decode-connect.ts';
import { isJsonObject } from './json.ts';
import type { JsonObject } from './json.ts';

export type InputFormat = 'connect' | 'cadf' | 'auto';

/** Facts about where a record was read (the service that wrote a CADF file). */
export type DecodeContext = CadfContext;

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

/** Decodes one parsed JSON value in the given format (`auto`: detected per record). Never throws. */
export function decodeRecord(json: unknown, format: InputFormat, context?: DecodeContext): DecodeResult {
  const f = format === 'auto' ? detectFormat(json) : format;
  switch (f) {
    case 'connect':
      return decodeConnectEvent(json);
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
 * Decodes one line of text: JSON, then `decodeRecord`. A leading byte-order mark and surrounding whitespace
 * (a CR of CRLF line ends) are allowed; text that is not JSON is invalid at path ``. Never throws.
 */
export function decodeLine(line: string, format: InputFormat, context?: DecodeContext): DecodeResult {
  let json: unknown;
  try {
    json = JSON.parse(line.startsWith('\uFEFF') ? line.slice(1) : line);
  } catch (e) {
    return { ok: false, error: { path: '', reason: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` } };
  }
  return decodeRecord(json, format, context);
}
