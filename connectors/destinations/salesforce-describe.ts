/**
 * Describe results of one Salesforce connection (`GET /sobjects/{T}/describe`), asked once per
 * object however many syncs need them: a worker serving 200 syncs on Account describes Account
 * once. Concurrent askers share the request in flight; a failed describe is not kept, and `forget`
 * drops one that no longer matches the org, so a field created in Setup is seen on the next check.
 *
 *   const describes = new SalesforceDescribes(session);
 *   const { fields } = await describes.describe('Account');
 */
import type { SalesforceSession } from './salesforce-session';

/** The attributes of a describe field ebb reads (API-CONTRACTS SF-3). */
export interface DescribeField {
  name: string;
  type: string;
  /** Characters a text field holds (0 for non-text types). */
  length?: number;
  externalId?: boolean;
  idLookup?: boolean;
  createable?: boolean;
  updateable?: boolean;
  picklistValues?: Array<{ value: string; active?: boolean }>;
  restrictedPicklist?: boolean;
  referenceTo?: string[];
  relationshipName?: string | null;
}

export interface SObjectDescribe {
  name: string;
  fields: DescribeField[];
}

export class SalesforceDescribes {
  private readonly results = new Map<string, Promise<SObjectDescribe>>();

  constructor(private readonly session: SalesforceSession) {}

  describe(object: string): Promise<SObjectDescribe> {
    const key = object.toLowerCase();
    let result = this.results.get(key);
    if (!result) {
      const asked = this.session.request<SObjectDescribe>('GET', `/sobjects/${encodeURIComponent(object)}/describe`);
      result = asked;
      this.results.set(key, asked);
      asked.catch(() => {
        if (this.results.get(key) === asked) this.results.delete(key);
      });
    }
    return result;
  }

  forget(object: string): void {
    this.results.delete(object.toLowerCase());
  }
}
