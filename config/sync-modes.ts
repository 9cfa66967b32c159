/** Sync modes by destination type, as each connector declares them (`mirror` also deletes). */
import { destinationConnectors } from '../connectors/destinations/registry';

export const syncModesByDestinationType: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.values(destinationConnectors).map((connector) => [connector.type, connector.modes]),
);
