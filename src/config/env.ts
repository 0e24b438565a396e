// `${VAR}` substitution in the parsed configuration's string values (never in the raw text, so a value cannot inject YAML).
import { isSecretKey, type ConfigIssue, type ConfigPath } from './errors.ts';

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ExpandResult {
  readonly value: string;
  /** What went wrong, worded for after `<key.path>: ` (`environment variable HEC_TOKEN is not set`). */
  readonly problems: readonly string[];
  /**
   * A variable with a secret-sounding name (`HEC_TOKEN`, `DB_PASSWORD`, `API_KEY`) was substituted: the
   * value is then never echoed in an error, whatever key it sits under.
   */
  readonly sensitive: boolean;
}

/**
 * Expands one string:
 * - `${VAR}` is the variable's value (an empty value is used as is); unset is a problem.
 * - `${VAR:-default}` is the default when VAR is unset or empty (the default cannot contain `}`).
 * - `$${` is a literal `${`. Any other `$` is itself.
 * The result is never parsed again: a value containing YAML stays a plain string.
 */
export function expandString(text: string, env: NodeJS.ProcessEnv): ExpandResult {
  const problems: string[] = [];
  let sensitive = false;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('$', i);
    if (start < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, start);
    if (text.startsWith('$${', start)) {
      out += '${';
      i = start + 3;
      continue;
    }
    if (!text.startsWith('${', start)) {
      out += '$';
      i = start + 1;
      continue;
    }
    const end = text.indexOf('}', start + 2);
    if (end < 0) {
      problems.push('unterminated "${" (write "$${" for a literal "${")');
      out += text.slice(start);
      break;
    }
    const body = text.slice(start + 2, end);
    const sep = body.indexOf(':-');
    const name = sep < 0 ? body : body.slice(0, sep);
    const fallback = sep < 0 ? undefined : body.slice(sep + 2);
    i = end + 1;
    if (!VAR_NAME.test(name)) {
      problems.push(`"\${${name}}" is not a valid environment variable reference (expected \${NAME} or \${NAME:-default}; write "$\${" for a literal "\${")`);
      continue;
    }
    const value = env[name];
    if (value !== undefined && value !== '' && isSecretKey(name)) sensitive = true;
    if (fallback !== undefined && (value === undefined || value === '')) out += fallback;
    else if (value !== undefined) out += value;
    else problems.push(`environment variable ${name} is not set`);
  }
  return { value: out, problems, sensitive };
}

export interface SubstituteResult {
  readonly value: unknown;
  /** One per problem, at the key path where it was found. */
  readonly issues: ConfigIssue[];
  /** Paths of values holding a secret-named variable (see ExpandResult.sensitive). */
  readonly sensitivePaths: ConfigPath[];
}

/** Expands every string value of a parsed document (mapping keys are left alone) into a new document. */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv): SubstituteResult {
  const issues: ConfigIssue[] = [];
  const sensitivePaths: ConfigPath[] = [];
  const walk = (v: unknown, path: ConfigPath): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('$')) return v;
      const r = expandString(v, env);
      for (const message of r.problems) issues.push({ path, message });
      if (r.sensitive) sensitivePaths.push(path);
      return r.value;
    }
    if (Array.isArray(v)) return v.map((item, index) => walk(item, [...path, index]));
    if (typeof v === 'object' && v !== null) {
      // fromEntries defines own properties, so a `__proto__` key stays a plain (unknown) key.
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, [...path, k])]));
    }
    return v;
  };
  return { value: walk(value, []), issues, sensitivePaths };
}
