// Deep and wide JSON values for the nesting tests, and the iterative depth and equality checks they need (recursive ones would overflow).
import fc from 'fast-check';

/** Deepest nesting the tests build: far past where V8's JSON.stringify and structuredClone give up. */
export const DEEP = 100_000;
/** Widest object the tests build. */
export const WIDE = 100_000;

/** What `deepValue` builds: a scalar wrapped `levels` times in arrays and objects picked by `seed`. */
export interface DeepShape {
  readonly levels: number;
  readonly seed: number;
  readonly leaf: unknown;
  /** Keys of an object around the leaf (0: none). */
  readonly wide: number;
  /** Build every object with its keys in the reverse order (same content). */
  readonly reverseKeys?: boolean;
}

export function deepValueArbitrary(options: { readonly minDepth?: number; readonly maxDepth: number }): fc.Arbitrary<DeepShape> {
  const min = options.minDepth ?? 1;
  return fc.record({
    // Mostly around the nesting limits a configuration may set, sometimes as deep as allowed.
    levels: fc.oneof(fc.integer({ min, max: Math.max(min, Math.min(options.maxDepth, 1_200)) }), fc.integer({ min, max: options.maxDepth })),
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
    leaf: fc.jsonValue({ maxDepth: 0 }),
    wide: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: WIDE }) }),
  });
}

/** A value of the shape: built from the inside out, so building it never recurses. */
export function deepValue(shape: DeepShape): unknown {
  let state = shape.seed;
  const next = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    return state % n;
  };
  const object = (entries: [string, unknown][]): Record<string, unknown> => Object.fromEntries(shape.reverseKeys === true ? entries.reverse() : entries);
  let v: unknown = shape.leaf;
  if (shape.wide > 0) {
    const entries: [string, unknown][] = Array.from({ length: shape.wide }, (_, i) => [`k${i}`, i % 3 === 0 ? `v${i}` : i]);
    entries.push(['inner', v]);
    v = object(entries);
  }
  const keys = ['requestData', 'a', 'data', 'k', 'x.y', ''];
  for (let i = 0; i < shape.levels; i++) {
    switch (next(4)) {
      case 0:
        v = [v];
        break;
      case 1:
        v = [1, v, 's'];
        break;
      case 2:
        v = object([[keys[next(keys.length)]!, v]]);
        break;
      default:
        v = object([
          ['before', null],
          [`key${next(3)}`, v],
          ['after', [true]],
        ]);
    }
  }
  return v;
}

/** `inner` inside `levels` arrays. */
export function nested(levels: number, inner: unknown): unknown {
  let v = inner;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

/** Containers on the longest path through `v` (an object or array is 1, a scalar 0), counted without recursion. */
export function depthOf(v: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d > deepest) deepest = d;
    for (const child of Array.isArray(x) ? x : Object.values(x)) if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
  return deepest;
}

/** Deep equality of JSON values (object key order ignored), without recursion. */
export function deepEqual(a: unknown, b: unknown): boolean {
  const stack: [unknown, unknown][] = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop()!;
    if (x === null || y === null || typeof x !== 'object' || typeof y !== 'object') {
      if (!Object.is(x, y) && !(x === 0 && y === 0)) return false;
      continue;
    }
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    if (Array.isArray(x)) {
      const ys = y as unknown[];
      if (x.length !== ys.length) return false;
      for (let i = 0; i < x.length; i++) stack.push([x[i], ys[i]]);
      continue;
    }
    const xo = x as Record<string, unknown>;
    const yo = y as Record<string, unknown>;
    const keys = Object.keys(xo);
    if (keys.length !== Object.keys(yo).length) return false;
    for (const k of keys) {
      if (!Object.hasOwn(yo, k)) return false;
      stack.push([xo[k], yo[k]]);
    }
  }
  return true;
}
