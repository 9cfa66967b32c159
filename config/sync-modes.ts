/**
 * Sync modes each destination type supports. `mirror` also deletes destination records whose
 * model rows disappeared. A destination type missing here accepts any mode its connector accepts.
 */
export const syncModesByDestinationType: Readonly<Record<string, readonly string[]>> = {
  salesforce: ['upsert', 'update', 'insert', 'mirror'],
  slack: ['update-in-place', 'append', 'mirror'],
};
