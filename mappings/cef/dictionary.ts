// The CEF keys this mapping writes: length limits from the ArcSight dictionary and the fixed labels of the custom fields.

/** Header field limits (ArcSight event schema), in UTF-16 code units. */
export const HEADER_LIMITS = Object.freeze({ vendor: 63, product: 63, version: 31, signatureId: 1023, name: 512 });

/** Extension value limits, in UTF-16 code units; numbers, IP addresses and labels are not listed. */
export const EXTENSION_LIMITS = Object.freeze({
  externalId: 40,
  act: 63,
  outcome: 63,
  cat: 1023,
  suser: 1023,
  shost: 1023,
  msg: 1023,
  reason: 1023,
  cs: 4000,
  flexString: 1023,
});

/** `externalId` for an id longer than its limit: this many leading characters, `~`, then this many hex digits of SHA-256. */
export const EXTERNAL_ID_PREFIX = 23;
export const EXTERNAL_ID_DIGEST_HEX = 16;

/**
 * Labels of the custom fields, fixed per origin (a label is written only next to a value). Keys and labels
 * are constants of this module: no input ever names a key.
 */
export const COMMON_LABELS = Object.freeze({
  cs1: 'eventId',
  cs2: 'targetId',
  cs5: 'data',
  flexString1: 'actorType',
  c6a2: 'sourceIPv6Address',
  cn2: 'eventTimeMicros',
  cn3: 'mappingVersion',
});

export const CONNECT_LABELS = Object.freeze({ cs3: 'trustZoneId', cs4: 'links' });

export const CADF_LABELS = Object.freeze({ cs3: 'targetName', cs4: 'targetType', cs6: 'cadfSeverity', flexString2: 'credentialType', cn1: 'reasonCode' });
