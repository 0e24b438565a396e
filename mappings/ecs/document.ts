// The shape of one document the `ecs` mapping emits: ECS 9.x fields, plus `cofide.*` (Connect) or `ibm.cadf.*` (CADF).
import type { JsonValue } from '../../src/model/json.ts';

export interface EcsUser {
  readonly id?: string;
  readonly name?: string;
  readonly domain?: string;
}

export interface EcsDocument {
  readonly '@timestamp': string;
  readonly ecs: { readonly version: string };
  readonly event: {
    readonly kind: 'event';
    readonly category?: readonly string[];
    readonly type: readonly string[];
    readonly action: string;
    readonly outcome: 'success' | 'failure' | 'unknown';
    readonly id: string;
    readonly dataset: string;
    readonly module: string;
    readonly provider?: string;
    readonly severity: number;
    readonly reason?: string;
    readonly created?: string;
    readonly original?: string;
  };
  readonly message: string;
  readonly user?: EcsUser & { readonly target?: EcsUser };
  readonly group?: { readonly id?: string; readonly name?: string };
  readonly source?: { readonly address: string; readonly ip?: string };
  readonly http?: { readonly response: { readonly status_code: number } };
  readonly service: { readonly name?: string; readonly type?: string; readonly version?: string };
  readonly observer: { readonly vendor: string; readonly product: string; readonly version?: string };
  readonly agent: { readonly type: string };
  readonly related?: { readonly user?: readonly string[]; readonly ip?: readonly string[] };
  readonly labels: { readonly mapping_version: string };
  readonly error?: { readonly message: string };
  /** Connect events only. */
  readonly cofide?: {
    readonly change: string;
    readonly outcome: string;
    readonly server_version?: string;
    readonly actor?: { readonly type: string };
    readonly entity?: { readonly type: string; readonly id?: string };
    readonly links: ReadonlyArray<{ readonly type: string; readonly id: string }>;
    readonly data?: JsonValue;
  };
  /** CADF records only. */
  readonly ibm?: {
    readonly cadf: {
      readonly outcome: string;
      readonly severity?: string;
      readonly reason_code?: string;
      readonly initiator?: { readonly type_uri?: string; readonly credential_type?: string };
      readonly target?: { readonly id?: string; readonly name?: string; readonly type_uri?: string };
      readonly request_data?: JsonValue;
    };
  };
}
