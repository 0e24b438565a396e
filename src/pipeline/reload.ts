// Configuration reload (SIGHUP): which routes a new configuration changes, so that only those are restarted.
import { createHash } from 'node:crypto';
import type { ForwarderConfig } from '../config/schema.ts';
import { Secret } from '../config/types.ts';

/** What a reload does to each route. */
export interface ReloadPlan {
  /** In the new configuration only, or not running now (ended or failed): started. */
  readonly start: readonly string[];
  /** Running, and the new configuration changes them: drained, then started on the new settings. */
  readonly restart: readonly string[];
  /** Running, and gone from the new configuration: drained and stopped. */
  readonly stop: readonly string[];
  /** Running and unchanged: left alone (no pause, nothing re-sent). */
  readonly keep: readonly string[];
}

/** A plain, comparable form of configuration values: a secret is its file (re-read when it changes) or a hash of its value. */
function comparable(value: unknown): unknown {
  if (value instanceof Secret) {
    return value.sourceFile !== undefined ? { secretFile: value.sourceFile } : { secret: createHash('sha256').update(value.reveal()).digest('hex') };
  }
  if (Array.isArray(value)) return value.map(comparable);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = comparable((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/**
 * Everything a route's lanes are built from: the route, its source, its sinks, where its checkpoint and dead
 * letters live and what relative paths resolve against. Two configurations that give a route the same
 * signature run it identically.
 */
export function routeSignature(config: ForwarderConfig, name: string): string {
  const route = config.routes[name]!;
  const sinks = Object.fromEntries(route.to.map((s) => [s, config.sinks[s]]));
  return JSON.stringify(
    comparable({
      route,
      source: config.sources[route.from],
      sinks,
      checkpoints: config.checkpoints,
      deadLetter: config.deadLetter,
      baseDir: config.baseDir,
    }),
  );
}

/**
 * The plan for moving from the routes running now (each with the configuration it was started from) to `next`.
 * A route that is not running (it ended, failed, or could not start) is started again when `next` still has it:
 * a reload is how an operator restarts a route after fixing what stopped it.
 */
export function planReload(running: ReadonlyMap<string, ForwarderConfig>, next: ForwarderConfig): ReloadPlan {
  const start: string[] = [];
  const restart: string[] = [];
  const keep: string[] = [];
  for (const name of Object.keys(next.routes)) {
    const current = running.get(name);
    if (current === undefined) start.push(name);
    else if (routeSignature(current, name) === routeSignature(next, name)) keep.push(name);
    else restart.push(name);
  }
  const stop = [...running.keys()].filter((name) => next.routes[name] === undefined);
  return { start, restart, stop, keep };
}
