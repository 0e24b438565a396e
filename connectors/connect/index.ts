// The `connect` source connector: the source over the transport its configuration chooses.
import type { ConnectorContext, SourceConnector } from '../../src/contracts/connector.ts';
import type { ConnectSourceConfig } from './config.ts';
import { connectSourceSchema } from './config.ts';
import { createApiReader } from './api-reader.ts';
import { createPostgresReader } from './postgres-reader.ts';
import { createConnectSource } from './source.ts';
import type { ConnectEventReader } from './window.ts';

function readerFor(config: ConnectSourceConfig, context: ConnectorContext): ConnectEventReader {
  return config.transport === 'postgres' ? createPostgresReader(config.postgres!, context) : createApiReader(config.api!, context);
}

export const connectSource: SourceConnector<ConnectSourceConfig> = {
  type: 'connect',
  schema: connectSourceSchema as never,
  create: (name, config, context) => createConnectSource(name, config, context, readerFor(config, context)),
  origin: () => 'connect',
};
