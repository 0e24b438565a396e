// The one table saying which PostgreSQL and socket errors of the direct Connect reader may clear, and what to check when not.
import { ForwarderError } from '../../src/contracts/errors.ts';

/** The configuration key an operator has to look at when an error will not clear by itself. */
export type PostgresConfigKey = 'connectionString' | 'table' | 'columns' | 'ssl';

/**
 * One row of the table. `match` is a SQLSTATE (five characters), a SQLSTATE class (its first two), for
 * errors raised before a server answered the Node.js / OpenSSL error `code`, or, for the pg client's own
 * errors (which have no code), their message.
 */
export interface PostgresErrorRule {
  readonly match: string;
  readonly kind: 'sqlstate' | 'class' | 'socket' | 'client';
  /** The condition name of the PostgreSQL appendix, or what the socket code means. */
  readonly condition: string;
  readonly disposition: 'retryable' | 'permanent';
  readonly configKey?: PostgresConfigKey;
  /** What the condition means for this reader, when the configuration key alone does not say it. */
  readonly note?: string;
}

const sqlstate = (
  match: string,
  condition: string,
  disposition: PostgresErrorRule['disposition'],
  configKey?: PostgresConfigKey,
  note?: string,
): PostgresErrorRule =>
  Object.freeze({
    match,
    kind: match.length === 2 ? 'class' : 'sqlstate',
    condition,
    disposition,
    ...(configKey !== undefined && { configKey }),
    ...(note !== undefined && { note }),
  });

const socket = (match: string, condition: string, disposition: PostgresErrorRule['disposition'], configKey?: PostgresConfigKey): PostgresErrorRule =>
  Object.freeze({ match, kind: 'socket', condition, disposition, ...(configKey !== undefined && { configKey }) });

/**
 * SQLSTATEs from PostgreSQL's "Appendix A. PostgreSQL Error Codes"
 * (https://www.postgresql.org/docs/current/errcodes-appendix.html). An exact SQLSTATE wins over its class.
 * Conditions that may clear (the server restarting or failing over, a replica's recovery conflict, too many
 * clients, a statement timeout) are retryable; credentials, privileges and a table layout that does not
 * match the configuration are permanent: the route stops with a message naming the key to fix.
 */
export const POSTGRES_ERROR_RULES: readonly PostgresErrorRule[] = Object.freeze([
  // Class 08 — Connection Exception
  sqlstate('08', 'connection_exception', 'retryable'),
  // Class 40 — Transaction Rollback (a hot standby's recovery conflict is reported as 40001)
  sqlstate('40001', 'serialization_failure', 'retryable'),
  sqlstate('40P01', 'deadlock_detected', 'retryable'),
  sqlstate('40', 'transaction_rollback', 'retryable'),
  // Class 53 — Insufficient Resources
  sqlstate('53300', 'too_many_connections', 'retryable'),
  sqlstate('53', 'insufficient_resources', 'retryable'),
  // Class 57 — Operator Intervention
  sqlstate('57P01', 'admin_shutdown', 'retryable'),
  sqlstate('57P02', 'crash_shutdown', 'retryable'),
  sqlstate('57P03', 'cannot_connect_now', 'retryable'),
  sqlstate('57P05', 'idle_session_timeout', 'retryable'),
  sqlstate('57014', 'query_canceled', 'retryable'),
  sqlstate('57P04', 'database_dropped', 'permanent', 'connectionString'),
  // Class 55 — Object Not In Prerequisite State: a lock_timeout of the role while a migration locks the table
  sqlstate('55P03', 'lock_not_available', 'retryable'),
  // Class 72 — Snapshot Failure (old_snapshot_threshold)
  sqlstate('72000', 'snapshot_too_old', 'retryable'),
  // Class 25 — timeouts a role's settings may impose on a page's transaction
  sqlstate('25P03', 'idle_in_transaction_session_timeout', 'retryable'),
  sqlstate('25P04', 'transaction_timeout', 'retryable'),
  // Class 58 — System Error (errors external to PostgreSQL itself, such as I/O)
  sqlstate('58', 'system_error', 'retryable'),
  // Class 28 — Invalid Authorization Specification
  sqlstate('28P01', 'invalid_password', 'permanent', 'connectionString'),
  sqlstate('28000', 'invalid_authorization_specification', 'permanent', 'connectionString'),
  sqlstate('28', 'invalid_authorization_specification', 'permanent', 'connectionString'),
  // Class 3D — Invalid Catalog Name (the database does not exist)
  sqlstate('3D000', 'invalid_catalog_name', 'permanent', 'connectionString'),
  // Class 42 — Syntax Error or Access Rule Violation
  sqlstate('42501', 'insufficient_privilege', 'permanent', 'table', 'the role needs USAGE on the schema and SELECT on the table'),
  sqlstate('42P01', 'undefined_table', 'permanent', 'table'),
  sqlstate('3F000', 'invalid_schema_name', 'permanent', 'table'),
  sqlstate('42703', 'undefined_column', 'permanent', 'columns'),
  // A column of another type than the layout says (to_char() of a text column, a jsonb compared with text).
  sqlstate('42883', 'undefined_function', 'permanent', 'columns'),
  sqlstate('42804', 'datatype_mismatch', 'permanent', 'columns'),
  sqlstate('42', 'syntax_error_or_access_rule_violation', 'permanent', 'table'),
  // Class 22 — Data Exception (a value the reader's casts cannot convert)
  sqlstate('22', 'data_exception', 'permanent', 'columns'),
  // Class 25 — Invalid Transaction State
  sqlstate('25006', 'read_only_sql_transaction', 'permanent', 'table', 'reading the table tried to write (a view calling a function that writes?), and the reader only reads'),

  // Before or without a server answer: the socket (Node.js system errors) and TLS verification (OpenSSL).
  socket('ECONNREFUSED', 'connection refused', 'retryable'),
  socket('ECONNRESET', 'connection reset', 'retryable'),
  socket('ECONNABORTED', 'connection aborted', 'retryable'),
  socket('EPIPE', 'broken pipe', 'retryable'),
  socket('ETIMEDOUT', 'connection timed out', 'retryable'),
  socket('EHOSTUNREACH', 'host unreachable', 'retryable'),
  socket('ENETUNREACH', 'network unreachable', 'retryable'),
  socket('ENETDOWN', 'network down', 'retryable'),
  socket('EAI_AGAIN', 'temporary DNS failure', 'retryable'),
  // A name that does not resolve now may resolve later (a database being created, DNS propagation).
  socket('ENOTFOUND', 'host name not found', 'retryable'),
  socket('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed server certificate', 'permanent', 'ssl'),
  socket('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in the chain', 'permanent', 'ssl'),
  socket('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'server certificate not signed by a trusted CA', 'permanent', 'ssl'),
  socket('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'issuer of the server certificate not trusted', 'permanent', 'ssl'),
  socket('UNABLE_TO_GET_ISSUER_CERT', 'issuer of the server certificate not trusted', 'permanent', 'ssl'),
  socket('CERT_HAS_EXPIRED', 'server certificate expired', 'permanent', 'ssl'),
  socket('CERT_NOT_YET_VALID', 'server certificate not yet valid', 'permanent', 'ssl'),
  socket('ERR_TLS_CERT_ALTNAME_INVALID', 'server certificate does not name the host', 'permanent', 'ssl'),

  // The pg client's own errors carry no code ("Connection terminated unexpectedly", "timeout exceeded when
  // trying to connect", "Query read timeout"): they are about the connection and retryable, except this one
  // (pg `lib/connection.js`), a server without TLS while TLS is configured, which will not clear.
  Object.freeze({ match: 'The server does not support SSL connections', kind: 'client', condition: 'the server does not accept TLS', disposition: 'permanent', configKey: 'ssl' }),
]);

/**
 * A SQLSTATE that is in no row: the server refused the statement for a reason this table does not know;
 * sending the same statement again will not change that, so the route stops and says why.
 */
export const UNKNOWN_SQLSTATE_DISPOSITION = 'permanent' as const;

const ADVICE: Readonly<Record<PostgresConfigKey, (c: PostgresErrorContext) => string>> = {
  connectionString: () => 'check the user, password and database of postgres.connectionString (and that the role may log in)',
  table: (c) => `check postgres.table (${JSON.stringify(c.table)}; schema-qualify it if its schema is not on the search_path)`,
  columns: (c) => `check postgres.columns against the columns of ${JSON.stringify(c.table)}`,
  ssl: () => 'check postgres.ssl.caFile (the CA bundle the server certificate must chain to, for the host name of the connection string)',
};

const rulesOf = (...kinds: PostgresErrorRule['kind'][]) => new Map(POSTGRES_ERROR_RULES.filter((r) => kinds.includes(r.kind)).map((r) => [r.match, r]));
const bySqlstate = rulesOf('sqlstate', 'class');
const bySocketCode = rulesOf('socket');
const byClientMessage = rulesOf('client');

const SQLSTATE = /^[0-9A-Z]{5}$/;
const OTHER_TLS_CODE = /^ERR_(SSL|TLS)_|CERT/;
const OTHER_TLS_RULE = socket('ERR_SSL_*', 'TLS failure', 'permanent', 'ssl');

/** What the reader knows about where the error happened, for the message (never the connection string). */
export interface PostgresErrorContext {
  /** `postgres 10.0.0.5:5432/connect` */
  readonly where: string;
  /** The configured table, as written in the configuration. */
  readonly table: string;
  /** A precise diagnosis found by the reader (the configured columns the table lacks), put before the advice. */
  readonly diagnosis?: string;
  /**
   * What to check, when the diagnosis found the fault outside the rule's configuration key (the links table
   * for an undefined_table, whose rule points at `postgres.table`); replaces the rule's advice.
   */
  readonly advice?: string;
}

export interface PostgresErrorClass {
  readonly disposition: 'retryable' | 'permanent';
  /** The SQLSTATE or socket code of the error, if it had one. */
  readonly code?: string;
  readonly rule?: PostgresErrorRule;
}

function codeOf(e: Error): string | undefined {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Node's happy-eyeballs connect reports one error per address tried.
  if (e instanceof AggregateError) {
    for (const inner of e.errors as unknown[]) {
      const innerCode = (inner as { code?: unknown } | null)?.code;
      if (typeof innerCode === 'string') return innerCode;
    }
  }
  return undefined;
}

/**
 * Classifies an error thrown by `pg` (or its socket). Returns undefined for errors that are not about the
 * database: `TypeError`s and the like are bugs, to be rethrown as they are, never retried.
 * Outside the table: another SQLSTATE takes `UNKNOWN_SQLSTATE_DISPOSITION`; another TLS code (`ERR_SSL_…`,
 * `ERR_TLS_…`, or an OpenSSL verification code naming a certificate) is permanent, to be fixed in
 * `postgres.ssl`; any other error of the socket or of the pg client is about the connection, so retryable.
 */
export function classifyPostgresError(e: unknown): PostgresErrorClass | undefined {
  if (!(e instanceof Error)) return undefined;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError) return undefined;
  const code = codeOf(e);
  if (code !== undefined && SQLSTATE.test(code) && (e as { severity?: unknown }).severity !== undefined) {
    const rule = bySqlstate.get(code) ?? bySqlstate.get(code.slice(0, 2));
    return rule === undefined ? { disposition: UNKNOWN_SQLSTATE_DISPOSITION, code } : { disposition: rule.disposition, code, rule };
  }
  if (code !== undefined) {
    const rule = bySocketCode.get(code) ?? (OTHER_TLS_CODE.test(code) ? OTHER_TLS_RULE : undefined);
    return rule === undefined ? { disposition: 'retryable', code } : { disposition: rule.disposition, code, rule };
  }
  const rule = byClientMessage.get(e.message);
  return rule === undefined ? { disposition: 'retryable' } : { disposition: rule.disposition, rule };
}

/**
 * The `ForwarderError` for a database error (stage `source`, code `FWD_SOURCE_IO`, the disposition of the
 * table), or undefined when `classifyPostgresError` says it is not a database error. Messages name the
 * condition and, for permanent errors, the configuration key to check; never the connection string.
 */
export function postgresSourceError(e: unknown, context: PostgresErrorContext): ForwarderError | undefined {
  const c = classifyPostgresError(e);
  if (c === undefined) return undefined;
  const err = e as Error & { hint?: unknown };
  const what = c.rule === undefined ? (c.code === undefined ? '' : ` (${c.code})`) : ` (${c.rule.condition}${c.code === undefined ? '' : `, ${c.code}`})`;
  const hint = typeof err.hint === 'string' && err.hint !== '' ? ` (hint: ${err.hint})` : '';
  const parts = [`${context.where}: ${err.message}${what}${hint}`];
  if (c.disposition === 'permanent') {
    if (c.rule?.note !== undefined) parts.push(c.rule.note);
    if (context.diagnosis !== undefined) parts.push(context.diagnosis);
    if (context.advice !== undefined) parts.push(context.advice);
    else if (c.rule?.configKey !== undefined) parts.push(ADVICE[c.rule.configKey](context));
  }
  return new ForwarderError('FWD_SOURCE_IO', parts.join('; '), { stage: 'source', disposition: c.disposition, cause: e });
}
