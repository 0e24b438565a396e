// Event selection with Connect's own semantics: `enabledEvents` (names or `all`) minus `disabledEvents`.
import type { AuditEvent } from '../model/audit-event.ts';

export interface EventSelection {
  /** True when the route forwards this event. */
  selects(event: AuditEvent): boolean;
  /** The Connect type names to push down to a source that can filter (undefined = all). */
  readonly includeTypes: readonly string[] | undefined;
  readonly excludeTypes: readonly string[];
}

/**
 * `enabled: 'all'` selects every event, Connect types this build does not know (`unknown_<n>`) and CADF
 * records included; an explicit list selects exactly those Connect types. `disabled` is removed after.
 * Names are validated by the configuration schema, not here.
 */
export function createSelection(enabled: 'all' | readonly string[], disabled: readonly string[]): EventSelection {
  const excluded = new Set(disabled);
  if (enabled === 'all') {
    return {
      includeTypes: undefined,
      excludeTypes: [...excluded],
      selects: excluded.size === 0 ? () => true : (e) => !(e.origin.kind === 'cofide-connect' && excluded.has(e.type)),
    };
  }
  const included = new Set(enabled.filter((t) => !excluded.has(t)));
  return {
    includeTypes: [...included],
    excludeTypes: [...excluded],
    selects: (e) => e.origin.kind === 'cofide-connect' && included.has(e.type),
  };
}
