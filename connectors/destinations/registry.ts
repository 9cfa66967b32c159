/** Every destination type ebb knows, by its `type` in ebb.yaml. Adding a destination adds one line here. */
import type { DestinationConnector } from './destination';
import { hubspotConnector } from './hubspot-destination';
import { metaAudienceConnector } from './meta-audience-destination';
import { salesforceConnector } from './salesforce-destination';
import { slackConnector } from './slack-destination';
import { webhookConnector } from './webhook-destination';

export const destinationConnectors: Record<string, DestinationConnector<unknown, unknown>> = {
  [salesforceConnector.type]: salesforceConnector,
  [slackConnector.type]: slackConnector,
  [metaAudienceConnector.type]: metaAudienceConnector,
  [hubspotConnector.type]: hubspotConnector,
  [webhookConnector.type]: webhookConnector,
};

export function destinationConnector(type: string): DestinationConnector<unknown, unknown> {
  const connector = destinationConnectors[type];
  if (!connector) {
    throw new Error(
      `Unknown destination type '${type}'. Known types: ${Object.keys(destinationConnectors).join(', ')}`,
    );
  }
  return connector;
}
