/**
 * The records and property definitions of one HubSpot portal, as the CRM v3 APIs show them: object
 * types (contacts, companies, or any custom type), their properties (`hasUniqueValue`,
 * `modificationMetadata.readOnlyValue`, enumeration options), and records keyed by HubSpot's own
 * numeric id. The HTTP layer (hubspot-sandbox.ts) turns these answers into responses.
 *
 * Faithful to HubSpot's public docs where they speak: a batch upsert names records by a unique
 * property (`idProperty`), takes at most 100 inputs, refuses the whole batch (400 VALIDATION_ERROR)
 * for duplicate ids, a non-unique or unknown idProperty, an unknown or read-only property, and
 * answers 207 with one error per input whose values are invalid while the others are written.
 * Property values are strings; an empty string clears a property.
 */
import fs from 'node:fs';

export interface SandboxProperty {
  name: string;
  label?: string;
  /** string | number | enumeration | bool | date | datetime */
  type: string;
  fieldType?: string;
  hasUniqueValue?: boolean;
  readOnlyValue?: boolean;
  /** For enumerations: the allowed values. */
  options?: string[];
}

export interface SandboxObjectType {
  /** The name used in paths: contacts, companies, or a custom object's name. */
  name: string;
  properties: SandboxProperty[];
}

export interface HubSpotRecord {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface UpsertInput {
  id?: unknown;
  idProperty?: unknown;
  objectWriteTraceId?: unknown;
  properties?: unknown;
}

export interface BatchError {
  status: 'error';
  category: string;
  message: string;
  context: Record<string, string[]>;
  errors: Array<{ message: string; code?: string; in?: string; context?: Record<string, string[]> }>;
  links: Record<string, string>;
}

export type UpsertAnswer =
  | {
      status: 200 | 207;
      results: Array<HubSpotRecord & { new: boolean; objectWriteTraceId?: string }>;
      errors: BatchError[];
    }
  | { status: 400 | 404; message: string; category: string };

export const MAX_BATCH_INPUTS = 100;

const readOnly = (name: string, type = 'string'): SandboxProperty => ({ name, type, readOnlyValue: true });
const COMMON: SandboxProperty[] = [
  { ...readOnly('hs_object_id', 'number'), hasUniqueValue: true },
  readOnly('createdate', 'datetime'),
  readOnly('hs_lastmodifieddate', 'datetime'),
];

/** Contacts and companies with HubSpot's usual properties, plus the custom ones the demo maps to. */
export const DEFAULT_OBJECT_TYPES: SandboxObjectType[] = [
  {
    name: 'companies',
    properties: [
      ...COMMON,
      { name: 'name', type: 'string' },
      { name: 'domain', type: 'string' },
      { name: 'annualrevenue', type: 'number' },
      { name: 'external_account_id', type: 'string', hasUniqueValue: true },
      { name: 'health_score', type: 'number' },
      { name: 'segment', type: 'enumeration', options: ['enterprise', 'mid-market', 'smb', 'at-risk'] },
      { name: 'mrr', type: 'number' },
      readOnly('num_associated_contacts', 'number'),
    ],
  },
  {
    name: 'contacts',
    properties: [
      ...COMMON,
      // Email is not flagged unique, yet HubSpot accepts it as the idProperty of contacts.
      { name: 'email', type: 'string' },
      { name: 'firstname', type: 'string' },
      { name: 'lastname', type: 'string' },
      { name: 'external_contact_id', type: 'string', hasUniqueValue: true },
      { name: 'lifecyclestage', type: 'enumeration', options: ['subscriber', 'lead', 'customer'] },
    ],
  },
];

const NUMBER = /^-?\d+(\.\d+)?$/;

/** Whether HubSpot would store `value` in `property`; a reason when not. */
function invalidValue(property: SandboxProperty, value: string): string | null {
  if (value === '') return null;
  if (property.type === 'number' && !NUMBER.test(value)) return `${value} was not a valid number.`;
  if (property.type === 'bool' && value !== 'true' && value !== 'false') return `${value} was not a valid boolean.`;
  if (property.type === 'enumeration' && property.options && !property.options.includes(value)) {
    return `${value} was not one of the allowed options: [${property.options.join(', ')}]`;
  }
  if (property.name === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value))
    return `Email address ${value} is invalid`;
  return null;
}

export class HubSpotPortal {
  private readonly types = new Map<string, SandboxObjectType>();
  private records = new Map<string, Map<string, HubSpotRecord>>();
  private nextId = 1001;

  constructor(
    types: SandboxObjectType[],
    private readonly file?: string,
  ) {
    for (const type of types) this.types.set(type.name, type);
    this.load();
  }

  objectType(name: string): SandboxObjectType | undefined {
    return this.types.get(name);
  }

  recordsOf(type: string): HubSpotRecord[] {
    return [...(this.records.get(type)?.values() ?? [])].map((r) => structuredClone(r));
  }

  upsert(typeName: string, inputs: UpsertInput[]): UpsertAnswer {
    const type = this.types.get(typeName);
    if (!type)
      return { status: 400, category: 'VALIDATION_ERROR', message: `Unable to infer object type from: ${typeName}` };
    const refuse = (message: string): UpsertAnswer => ({ status: 400, category: 'VALIDATION_ERROR', message });
    if (inputs.length > MAX_BATCH_INPUTS) {
      return refuse(`Too many inputs: ${inputs.length}. The maximum is ${MAX_BATCH_INPUTS} inputs per batch.`);
    }
    const byName = new Map(type.properties.map((p) => [p.name, p]));
    const seen = new Set<string>();
    for (const input of inputs) {
      const idProperty = typeof input.idProperty === 'string' ? input.idProperty : '';
      const property = byName.get(idProperty);
      if (!property)
        return refuse(
          `Property ${idProperty || '(none)'} does not exist on ${typeName}: idProperty must name a unique property.`,
        );
      if (!property.hasUniqueValue && !(typeName === 'contacts' && idProperty === 'email')) {
        return refuse(`${idProperty} is not a unique value property and cannot be used as idProperty.`);
      }
      if (typeof input.id !== 'string' || input.id === '')
        return refuse('Every input needs an id: the value of its idProperty.');
      if (seen.has(input.id)) return refuse(`Duplicate IDs found in batch input: [${input.id}]. IDs must be unique`);
      seen.add(input.id);
      const properties = (input.properties ?? {}) as Record<string, unknown>;
      for (const [name, value] of Object.entries(properties)) {
        const defined = byName.get(name);
        if (!defined)
          return refuse(
            `Property values were not valid: [{"isValid":false,"message":"Property \\"${name}\\" does not exist","error":"PROPERTY_DOESNT_EXIST","name":"${name}"}]`,
          );
        if (defined.readOnlyValue)
          return refuse(
            `Property values were not valid: [{"isValid":false,"message":"${name} is a read only property; its value cannot be set.","error":"READ_ONLY_VALUE","name":"${name}"}]`,
          );
        if (typeof value !== 'string')
          return refuse(
            `Property values were not valid: [{"isValid":false,"message":"${name} must be a string","error":"INVALID_TYPE","name":"${name}"}]`,
          );
      }
    }

    const results: Array<HubSpotRecord & { new: boolean; objectWriteTraceId?: string }> = [];
    const errors: BatchError[] = [];
    const store = this.records.get(typeName) ?? new Map<string, HubSpotRecord>();
    this.records.set(typeName, store);
    const now = new Date().toISOString();
    for (const input of inputs) {
      const idProperty = input.idProperty as string;
      const properties = (input.properties ?? {}) as Record<string, string>;
      const trace = typeof input.objectWriteTraceId === 'string' ? input.objectWriteTraceId : undefined;
      const invalid = Object.entries(properties)
        .map(([name, value]) => ({ name, why: invalidValue(byName.get(name) as SandboxProperty, value) }))
        .filter((p) => p.why !== null);
      if (invalid.length > 0) {
        errors.push({
          status: 'error',
          category: 'VALIDATION_ERROR',
          message: `Property values were not valid: ${JSON.stringify(invalid.map((p) => ({ isValid: false, message: p.why, error: 'INVALID_PROPERTY_VALUE', name: p.name })))}`,
          context: { ...(trace ? { objectWriteTraceId: [trace] } : {}), ids: [input.id as string] },
          errors: invalid.map((p) => ({ message: p.why as string, code: 'INVALID_PROPERTY_VALUE', in: p.name })),
          links: {},
        });
        continue;
      }
      const existing = [...store.values()].find((r) => r.properties[idProperty] === input.id);
      const record: HubSpotRecord = existing ?? {
        id: String(this.nextId++),
        properties: {},
        createdAt: now,
        updatedAt: now,
      };
      for (const [name, value] of Object.entries(properties)) {
        if (value === '') delete record.properties[name];
        else record.properties[name] = value;
      }
      record.properties[idProperty] = input.id as string;
      record.properties.hs_object_id = record.id;
      record.properties.createdate = record.createdAt;
      record.properties.hs_lastmodifieddate = record.updatedAt = now;
      store.set(record.id, record);
      results.push({ ...structuredClone(record), new: !existing, ...(trace ? { objectWriteTraceId: trace } : {}) });
    }
    this.save();
    // HubSpot does not promise results in input order; answering in reverse catches a client that assumes it.
    results.reverse();
    return { status: errors.length ? 207 : 200, results, errors };
  }

  /** Reads records by HubSpot id or by a unique property; unknown ones are left out. */
  read(typeName: string, ids: string[], idProperty?: string): HubSpotRecord[] {
    const store = this.records.get(typeName);
    if (!store) return [];
    const match = (r: HubSpotRecord, id: string) => (idProperty ? r.properties[idProperty] === id : r.id === id);
    return ids.flatMap((id) => [...store.values()].filter((r) => match(r, id))).map((r) => structuredClone(r));
  }

  /** Archives records by HubSpot id; unknown ids are ignored, as HubSpot's 204 does. */
  archive(typeName: string, ids: string[]): void {
    const store = this.records.get(typeName);
    for (const id of ids) store?.delete(id);
    this.save();
  }

  reset(): void {
    this.records = new Map();
    this.save();
  }

  private load(): void {
    if (!this.file || !fs.existsSync(this.file)) return;
    const saved = JSON.parse(fs.readFileSync(this.file, 'utf8')) as {
      nextId: number;
      records: Record<string, HubSpotRecord[]>;
    };
    this.nextId = saved.nextId;
    for (const [type, records] of Object.entries(saved.records)) {
      this.records.set(type, new Map(records.map((r) => [r.id, r])));
    }
  }

  private save(): void {
    if (!this.file) return;
    const records = Object.fromEntries([...this.records].map(([type, m]) => [type, [...m.values()]]));
    fs.writeFileSync(this.file, JSON.stringify({ nextId: this.nextId, records }));
  }
}
