// The shared encoding of records: a mapped value as one record's text, and records as JSON lines (a request body or file bytes).
import type { Mapping } from '../contracts/mapping.ts';
import type { SinkRecord } from '../contracts/sink.ts';
import { toJsonLine } from '../model/json.ts';

/**
 * A mapped value as one record's text: the JSON text on one line for a `json` mapping (no raw line break, any
 * depth), the string itself for a `text` one. Throws what JSON.stringify throws on what is not JSON (a bigint).
 */
export function encodeValue(mapping: Pick<Mapping, 'encoding'>, value: unknown): string {
  return mapping.encoding === 'json' ? toJsonLine(value) : String(value);
}

/** The payloads of `records`, each followed by a newline: the JSON-lines body of a file, HEC, a pipe. */
export function jsonLines(records: readonly SinkRecord[]): Buffer {
  let text = '';
  for (const r of records) text += `${r.payload}\n`;
  return Buffer.from(text, 'utf8');
}
