// The `connect` source: the source over the transport its configuration chooses (imported by the registry on first use).
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import type { Source } from '../../src/contracts/source.ts';
import type { ConnectSourceConfig } from './config.ts';
import { createApiReader } from './api-reader.ts';
import { createPostgresReader } from './postgres-reader.ts';
import { createConnectSource } from './source.ts';
import type { ConnectEventReader } from './window.ts';

function readerFor(config: ConnectSourceConfig, context: ConnectorContext): ConnectEventReader {
  return config.transport === 'postgres' ? createPostgresReader(config.postgres!, context) : createApiReader(config.api!, context);
}

export function createConnect(name: string, config: ConnectSourceConfig, context: ConnectorContext): Source {
  return createConnectSource(name, config, context, readerFor(config, context));
}
