// JSON value types shared by the canonical event, positions and checkpoints, and JSON text that no nesting depth can break.
export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/*
 * Records come from outside: how deep they nest is the writer's choice. Everything here walks values with
 * an explicit stack, so a deep record costs heap, never the call stack (a RangeError out of a decoder or a
 * mapping would stop the route).
 */

/** Members of an object that canonical text writes: those not undefined, sorted (UTF-16 code unit order). */
function canonicalKeys(obj: Record<string, unknown>): string[] {
  const keys = Object.keys(obj);
  // Parsed JSON has no undefined members: filtering (a copy) only when there is one.
  for (const k of keys) if (obj[k] === undefined) return keys.filter((key) => obj[key] !== undefined).sort();
  return keys.sort();
}

/** JSON text with object keys sorted at every level: the same value always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // The open containers as parallel stacks (container, its sorted keys or undefined for an array, next
  // member): the hot path of derived CADF ids and checkpoint checksums, so no object per container.
  const containers: object[] = [];
  const keyLists: (string[] | undefined)[] = [];
  const next: number[] = [];
  let out = '';
  const open = (v: object): void => {
    containers.push(v);
    next.push(0);
    if (Array.isArray(v)) {
      out += '[';
      keyLists.push(undefined);
    } else {
      out += '{';
      keyLists.push(canonicalKeys(v as Record<string, unknown>));
    }
  };
  open(value);
  while (containers.length > 0) {
    const top = containers.length - 1;
    const keys = keyLists[top];
    const i = next[top]!;
    let member: unknown;
    if (keys === undefined) {
      const items = containers[top] as readonly unknown[];
      if (i === items.length) {
        out += ']';
        containers.pop();
        keyLists.pop();
        next.pop();
        continue;
      }
      if (i > 0) out += ',';
      member = items[i];
    } else {
      if (i === keys.length) {
        out += '}';
        containers.pop();
        keyLists.pop();
        next.pop();
        continue;
      }
      const key = keys[i]!;
      out += `${i > 0 ? ',' : ''}${JSON.stringify(key)}:`;
      member = (containers[top] as Record<string, unknown>)[key];
    }
    next[top] = i + 1;
    if (member === null || typeof member !== 'object') out += JSON.stringify(member) ?? 'null';
    else open(member);
  }
  return out;
}

/**
 * What JSON.stringify does to an object or a bigint before writing it: `toJSON(key)`, then the primitive
 * inside a boxed primitive. Other values are written as they are, so the key is only made when needed.
 */
function prepare(holder: unknown, key: string | number): unknown {
  let v = (holder as Record<string | number, unknown>)[key];
  if ((typeof v !== 'object' || v === null) && typeof v !== 'bigint') return v;
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') v = (toJSON as (key: string) => unknown).call(v, String(key));
  if (v instanceof Number || v instanceof String || v instanceof Boolean) v = v.valueOf();
  return v;
}

/** The text of a non-object as JSON.stringify writes it, or undefined when JSON has none (undefined, a function, a symbol). */
function primitiveText(v: unknown): string | undefined {
  // Strings (escapes, lone surrogates), numbers (NaN and infinities as null) and booleans as JSON.stringify
  // itself writes them; a bigint throws the same TypeError.
  return JSON.stringify(v) as string | undefined;
}

const isContainer = (v: unknown): v is object => typeof v === 'object' && v !== null;

/**
 * JSON.stringify without recursion: the same text for any value JSON.stringify accepts (members in their
 * own order, `toJSON` honoured, undefined / functions / symbols left out of objects and written as `null` in
 * arrays), and the same TypeError for a cycle or a bigint.
 */
function iterativeStringify(root: unknown): string | undefined {
  const first = prepare({ '': root }, '');
  if (!isContainer(first)) return primitiveText(first);
  // Parallel stacks, as in canonicalJson: container, its keys (undefined for an array), next member, and
  // for an object whether a member was written yet.
  const containers: object[] = [];
  const keyLists: (string[] | undefined)[] = [];
  const next: number[] = [];
  const written: boolean[] = [];
  /** The containers being written: a value met again inside itself is a cycle, as JSON.stringify reports it. */
  const open = new Set<object>();
  let out = '';
  const enter = (v: object): void => {
    if (open.has(v)) throw new TypeError('Converting circular structure to JSON');
    open.add(v);
    containers.push(v);
    next.push(0);
    written.push(false);
    if (Array.isArray(v)) {
      out += '[';
      keyLists.push(undefined);
    } else {
      out += '{';
      keyLists.push(Object.keys(v));
    }
  };
  const leave = (close: string): void => {
    out += close;
    open.delete(containers.pop()!);
    keyLists.pop();
    next.pop();
    written.pop();
  };
  enter(first);
  while (containers.length > 0) {
    const top = containers.length - 1;
    const keys = keyLists[top];
    const i = next[top]!;
    if (keys === undefined) {
      const items = containers[top] as readonly unknown[];
      if (i === items.length) {
        leave(']');
        continue;
      }
      next[top] = i + 1;
      if (i > 0) out += ',';
      const v = prepare(items, i);
      if (isContainer(v)) enter(v);
      else out += primitiveText(v) ?? 'null';
    } else {
      if (i === keys.length) {
        leave('}');
        continue;
      }
      next[top] = i + 1;
      const key = keys[i]!;
      const v = prepare(containers[top], key);
      const text = isContainer(v) ? undefined : primitiveText(v);
      // Members JSON has no text for are left out, commas included.
      if (text === undefined && !isContainer(v)) continue;
      out += `${written[top] ? ',' : ''}${JSON.stringify(key)}:`;
      written[top] = true;
      if (text !== undefined) out += text;
      else enter(v as object);
    }
  }
  return out;
}

/**
 * Exactly the text `JSON.stringify(value)` gives for JSON data, whatever its depth: the native serialiser
 * first (fast), and when it runs out of stack (V8 throws a RangeError some thousands of levels down) the same
 * text written with an explicit stack. A value JSON has no text for (undefined, a function) gives `null`, as
 * in an array. Other errors (a cycle, a bigint) are thrown as JSON.stringify throws them.
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return iterativeStringify(value) ?? 'null';
  }
}

/** Where a value nests deeper than allowed (`nestingProblem`). */
export interface NestingProblem {
  /** Path of the container that passed the limit, abbreviated (see `nestingProblem`). */
  readonly path: string;
  /** The value's whole nesting depth, in containers (the top-level object or array is depth 1). */
  readonly depth: number;
}

/** Segments of a path shown before it is abbreviated, and characters of a key shown in one. */
const PATH_SEGMENTS = 8;
const KEY_CHARS = 40;
const PLAIN_KEY = /^[A-Za-z0-9_$@:-]+$/;

function keySegment(key: string, first: boolean): string {
  const shown = key.length > KEY_CHARS ? `${key.slice(0, KEY_CHARS)}…` : key;
  if (PLAIN_KEY.test(key) && shown === key) return first ? key : `.${key}`;
  return `[${JSON.stringify(shown)}]`;
}

/**
 * Undefined when `value` nests at most `maxDepth` containers deep (the top-level object or array is depth 1,
 * a scalar is depth 0); otherwise where the limit was first passed, in the decoders' path style
 * (`requestData[0][0].a`). The path goes into dead-letter files and log lines, so past its first few
 * segments it is cut to `…` and the value's whole depth (`requestData[0][0][0][0][0][0][0]… (3001 levels)`).
 * Walks with an explicit stack: any depth is safe, and the cost is one visit of each container member.
 */
export function nestingProblem(value: unknown, maxDepth: number): NestingProblem | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  // Parallel stacks of the open containers (keys undefined for an array; the member to visit next). A
  // container's path segment is its parent's previous member, so nothing is spelt out unless the limit is passed.
  const containers: object[] = [];
  const keyLists: (string[] | undefined)[] = [];
  const next: number[] = [];
  const open = (v: object): void => {
    containers.push(v);
    keyLists.push(Array.isArray(v) ? undefined : Object.keys(v));
    next.push(0);
  };
  const segmentAt = (level: number): string => {
    const keys = keyLists[level - 1];
    const i = next[level - 1]! - 1;
    return keys === undefined ? `[${i}]` : keySegment(keys[i]!, level === 1);
  };
  open(value);
  let passed: string[] | undefined = maxDepth < 1 ? [] : undefined;
  let deepest = 1;
  while (containers.length > 0) {
    const top = containers.length - 1;
    const keys = keyLists[top];
    const i = next[top]!;
    let child: unknown;
    if (keys === undefined) {
      const items = containers[top] as readonly unknown[];
      if (i === items.length) {
        containers.pop();
        keyLists.pop();
        next.pop();
        continue;
      }
      child = items[i];
    } else {
      if (i === keys.length) {
        containers.pop();
        keyLists.pop();
        next.pop();
        continue;
      }
      child = (containers[top] as Record<string, unknown>)[keys[i]!];
    }
    next[top] = i + 1;
    if (child === null || typeof child !== 'object') continue;
    open(child);
    const depth = containers.length;
    if (depth > deepest) deepest = depth;
    // Only the first place matters; the walk goes on to measure the whole depth.
    if (passed === undefined && depth > maxDepth) {
      passed = [];
      for (let level = 1; level < Math.min(depth, PATH_SEGMENTS + 2); level++) passed.push(segmentAt(level));
    }
  }
  if (passed === undefined) return undefined;
  const path = passed.length > PATH_SEGMENTS ? `${passed.slice(0, PATH_SEGMENTS).join('')}… (${deepest} levels)` : passed.join('');
  return { path, depth: deepest };
}

const LINE_SEPARATORS = /[\u2028\u2029]/g;

/**
 * JSON text on one line, whatever the value holds: JSON.stringify escapes every control character but
 * leaves U+2028 / U+2029 raw, which some line readers split on; they are written as JSON escapes, so
 * `JSON.parse` gives back exactly the same value. Never throws for depth (see `jsonText`).
 */
export function toJsonLine(value: unknown): string {
  const text = jsonText(value);
  return text.includes('\u2028') || text.includes('\u2029') ? text.replace(LINE_SEPARATORS, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029')) : text;
}
