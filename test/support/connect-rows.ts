// Connect events as rows of an audit table (the documented default layout or other names), for the PostgreSQL reader tests.
import type pg from 'pg';
import { eventTypeByName } from '../../src/model/event-types.ts';
import { connectEventJson } from './generate.ts';

/** How the `type` and `outcome` columns spell an enum: `EVENT_TYPE_TRUST_ZONE_CREATION`, `trust_zone_creation` or `26`. */
export type EnumForm = 'name' | 'short' | 'number';
/** How the `data` column holds the JSON document. */
export type DataForm = 'jsonb' | 'text' | 'bytea';

export interface ConnectRow {
  readonly id: string;
  readonly occurredAt: string;
  readonly type: string | number;
  readonly message: string;
  readonly links: unknown;
  /** The parsed JSON document, or undefined for no data. */
  readonly data: unknown;
  readonly actor: string;
  readonly sourceIp: string;
  readonly outcome: string | number;
  readonly serverVersion: string;
}

export type RowColumns = Record<keyof ConnectRow, string>;

export const DEFAULT_ROW_COLUMNS: RowColumns = {
  id: 'id',
  occurredAt: 'occurred_at',
  type: 'type',
  message: 'message',
  links: 'links',
  data: 'data',
  actor: 'actor',
  sourceIp: 'source_ip',
  outcome: 'outcome',
  serverVersion: 'server_version',
};

const OUTCOME_NUMBERS: Readonly<Record<string, number>> = { OUTCOME_UNSPECIFIED: 0, OUTCOME_SUCCESS: 1, OUTCOME_DENIED: 2 };

/** A row holding a Connect event in proto3 JSON form (`connectEventJson`), its enums spelt as `form` says. */
export function rowFromEvent(event: Record<string, unknown>, form: EnumForm = 'name'): ConnectRow {
  const typeName = String(event['type']);
  const outcomeName = String(event['outcome']);
  const short = typeName.replace(/^EVENT_TYPE_/, '').toLowerCase();
  const type = form === 'name' ? typeName : form === 'short' ? short : (eventTypeByName(short)?.number ?? Number(short.replace(/^unknown_/, '')));
  const outcome = form === 'name' ? outcomeName : form === 'short' ? outcomeName.replace(/^OUTCOME_/, '').toLowerCase() : (OUTCOME_NUMBERS[outcomeName] ?? 0);
  const data = typeof event['data'] === 'string' ? (JSON.parse(Buffer.from(event['data'], 'base64').toString('utf8')) as unknown) : event['data'];
  return {
    id: String(event['id']),
    occurredAt: String(event['occurredAt']),
    type,
    message: String(event['message'] ?? ''),
    links: event['links'] ?? [],
    data,
    actor: String(event['actor'] ?? ''),
    sourceIp: String(event['sourceIp'] ?? ''),
    outcome,
    serverVersion: String(event['serverVersion'] ?? ''),
  };
}

/** The row of the i-th synthetic event. */
export function connectRow(i: number, form: EnumForm = 'name'): ConnectRow {
  return rowFromEvent(connectEventJson(i), form);
}

function dataValue(data: unknown, form: DataForm): unknown {
  if (data === undefined) return null;
  if (form === 'jsonb') return data;
  const text = JSON.stringify(data);
  return form === 'text' ? text : `\\x${Buffer.from(text, 'utf8').toString('hex')}`;
}

/**
 * Inserts rows into `table` (an SQL name, already quoted as needed) by `jsonb_populate_recordset`, which
 * converts each value to its column's type (text, integer, inet, bytea in hex form, jsonb…). Every column of
 * the table that is not one of `columns` is left NULL.
 */
export async function insertConnectRows(
  client: pg.ClientBase,
  table: string,
  rows: readonly ConnectRow[],
  options: { columns?: Partial<RowColumns>; data?: DataForm } = {},
): Promise<void> {
  const columns = { ...DEFAULT_ROW_COLUMNS, ...options.columns };
  const form = options.data ?? 'jsonb';
  const BATCH = 5000;
  for (let start = 0; start < rows.length; start += BATCH) {
    const batch = rows.slice(start, start + BATCH).map((row) => {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(columns) as (keyof ConnectRow)[]) out[columns[key]] = key === 'data' ? dataValue(row.data, form) : row[key];
      return out;
    });
    await client.query(`INSERT INTO ${table} SELECT * FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)`, [JSON.stringify(batch)]);
  }
}
