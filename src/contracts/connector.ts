// The registry contract: how the engine finds a connector by its `type` without knowing any vendor by name.
import type { z } from 'zod';
import type { Logger } from '../logging.ts';
import type { Sink } from './sink.ts';
import type { SinkQuery } from './sink-query.ts';
import type { Source } from './source.ts';

export interface ConnectorContext {
  readonly logger: Logger;
  /** Directory of the configuration file: relative paths in connector configs are resolved against it. */
  readonly baseDir: string;
  /**
   * For a sink made for one route's lane: the route, and its `mappingOptions` (a sink may route by them, as the
   * Elasticsearch sink's target). Absent for a sink made for `check`, or made outside a route.
   */
  readonly route?: { readonly name: string; readonly mappingOptions: Readonly<Record<string, string>> };
}

/** A source connector: its config schema (a zod object with a literal `type`, `.strict()`) and a factory. */
export interface SourceConnector<C extends { type: string } = { type: string }> {
  readonly type: C['type'];
  readonly schema: z.ZodType<C>;
  /**
   * Imports the implementation (drivers, network clients: the heavy part), so that a process pays only for the
   * connectors its configuration names. `create` may only be called once it resolved. Idempotent; optional (a
   * connector without it is loaded with the registry).
   */
  load?(): Promise<void>;
  /** One route lane (route × sink) gets its own Source instance, so each sink reads at its own pace. */
  create(name: string, config: C, context: ConnectorContext): Source;
  /** What kind of records this config yields, for selection checks: `connect`, `cadf` or `mixed`. */
  origin(config: C): 'connect' | 'cadf' | 'mixed';
}

/** A sink connector: config schema (with a `mapping` key naming a registered mapping) and a factory. */
export interface SinkConnector<C extends { type: string; mapping: string } = { type: string; mapping: string }> {
  readonly type: C['type'];
  readonly schema: z.ZodType<C>;
  /** Keys of a route's `mappingOptions` the sink itself reads (the Elasticsearch target of the route); default none. */
  readonly options?: readonly string[];
  /** As `SourceConnector.load`: imports the implementation; `create` may only be called once it resolved. */
  load?(): Promise<void>;
  create(name: string, config: C, context: ConnectorContext): Sink;
  /**
   * Optional: prepares the destination for the sink (`audit-forwarder setup <type>`: an index template, a
   * lifecycle policy). Idempotent; resolves with one line per thing done, rejects with what went wrong.
   */
  setup?(name: string, config: C, context: ConnectorContext, request: SinkSetupRequest): Promise<string[]>;
  /**
   * Optional: a read-only view of what the destination holds, for `audit-forwarder reconcile --against siem`
   * (see sink-query.ts). Absent for a destination that cannot be queried (syslog, OTLP, files): `reconcile` says
   * so. Throws `ForwarderError` `FWD_CONFIG_INVALID` when the sink's configuration lacks what a query needs (the
   * key to set). May only be called once `load` resolved.
   */
  query?(name: string, config: C, context: ConnectorContext): SinkQuery;
}

/** What `audit-forwarder setup` passes to a sink connector's `setup`. */
export interface SinkSetupRequest {
  /** The `mappingOptions` of every route that sends to this sink. */
  readonly routeOptions: ReadonlyArray<Readonly<Record<string, string>>>;
  /** Also install a lifecycle (retention) policy where the destination has one. */
  readonly lifecycle: boolean;
  /** Priority of an index template, where the destination has them. */
  readonly priority?: number;
}

export interface ConnectorRegistry {
  readonly sources: ReadonlyMap<string, SourceConnector>;
  readonly sinks: ReadonlyMap<string, SinkConnector>;
}

/** Loads the implementations of the connectors that a configuration's sources and sinks name (see `load`). */
export async function loadConnectors(
  registry: ConnectorRegistry,
  config: { readonly sources: Readonly<Record<string, { readonly type: string }>>; readonly sinks: Readonly<Record<string, { readonly type: string }>> },
): Promise<void> {
  const used = [
    ...new Set(Object.values(config.sources).map((s) => s.type)),
  ].map((type) => registry.sources.get(type)?.load?.());
  const sinks = [...new Set(Object.values(config.sinks).map((s) => s.type))].map((type) => registry.sinks.get(type)?.load?.());
  await Promise.all([...used, ...sinks]);
}
