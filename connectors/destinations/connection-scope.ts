/**
 * What the syncs of one destination connection share within one process: the engine keeps one
 * scope per `destinations.<name>` of ebb.yaml and hands it to every destination it creates for
 * that connection, so a connector can hold one session and one describe per object for all of
 * them instead of one per sync (200 syncs on one org: one login, not 200).
 *
 *   const session = scope.shared('salesforce-session', () => new SalesforceSession(connection, scope.subject));
 *
 * Values live as long as the scope (the worker's DestinationPool); `forget` drops one so the next
 * `shared` call builds it again (a describe that no longer matches the org).
 */
import type { SharedRequestCounter } from './api-budget';

export class ConnectionScope {
  private readonly values = new Map<string, unknown>();

  /**
   * @param name the connection's key under `destinations:` in ebb.yaml.
   * @param requestCounter where the engine counts the connection's requests for its `apiBudget`
   * (api-budget.ts), shared by every worker; absent outside the engine (`ebb validate --online`).
   */
  constructor(
    readonly name: string,
    readonly requestCounter?: SharedRequestCounter,
  ) {}

  /** How error messages name the connection: "destination 'salesforce'". */
  get subject(): string {
    return `destination '${this.name}'`;
  }

  /** The value kept under `key`, built by `create` the first time it is asked for. */
  shared<T>(key: string, create: () => T): T {
    if (!this.values.has(key)) this.values.set(key, create());
    return this.values.get(key) as T;
  }

  forget(key: string): void {
    this.values.delete(key);
  }
}
