/**
 * The sObjects a Salesforce sandbox knows, described the way `GET /sobjects/{T}/describe` answers.
 *
 * A definition lists only what matters to validation; `describeSObject` fills the rest with the
 * defaults Salesforce reports for a plain custom field, so clients that read describe results
 * (jsforce, our connector's check()) see the shape they expect.
 */
export type SalesforceFieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'email'
  | 'phone'
  | 'url'
  | 'picklist'
  | 'multipicklist'
  | 'boolean'
  | 'int'
  | 'double'
  | 'currency'
  | 'percent'
  | 'date'
  | 'datetime'
  | 'reference';

export interface SalesforceFieldDefinition {
  name: string;
  type: SalesforceFieldType;
  label?: string;
  /** Maximum characters for text-like fields. */
  length?: number;
  externalId?: boolean;
  idLookup?: boolean;
  unique?: boolean;
  /** false: the field must have a value (Salesforce's "required"). Defaults to true. */
  nillable?: boolean;
  createable?: boolean;
  updateable?: boolean;
  /** Salesforce fills it on insert (e.g. OwnerId), so it is not required even when not nillable. */
  defaultedOnCreate?: boolean;
  picklistValues?: string[];
  /** Restricted picklists reject values outside `picklistValues`. */
  restrictedPicklist?: boolean;
  referenceTo?: string[];
  /** For reference fields: the name lookups use (Account for AccountId, Parent__r for Parent__c). */
  relationshipName?: string;
}

export interface SalesforceObjectDefinition {
  name: string;
  label?: string;
  /** First three characters of every record id of this object (Account: 001). */
  keyPrefix: string;
  fields: SalesforceFieldDefinition[];
}

const auditFields: SalesforceFieldDefinition[] = [
  {
    name: 'Id',
    type: 'id',
    length: 18,
    nillable: false,
    createable: false,
    updateable: false,
    idLookup: true,
    defaultedOnCreate: true,
  },
  {
    name: 'IsDeleted',
    type: 'boolean',
    nillable: false,
    createable: false,
    updateable: false,
    defaultedOnCreate: true,
  },
  { name: 'OwnerId', type: 'reference', length: 18, nillable: false, defaultedOnCreate: true, referenceTo: ['User'] },
  {
    name: 'CreatedDate',
    type: 'datetime',
    nillable: false,
    createable: false,
    updateable: false,
    defaultedOnCreate: true,
  },
  {
    name: 'LastModifiedDate',
    type: 'datetime',
    nillable: false,
    createable: false,
    updateable: false,
    defaultedOnCreate: true,
  },
  {
    name: 'SystemModstamp',
    type: 'datetime',
    nillable: false,
    createable: false,
    updateable: false,
    defaultedOnCreate: true,
  },
];

/** Account with the custom fields the ebb demo syncs into. */
export const accountObject: SalesforceObjectDefinition = {
  name: 'Account',
  keyPrefix: '001',
  fields: [
    ...auditFields,
    { name: 'Name', type: 'string', length: 80, nillable: false, idLookup: true },
    {
      name: 'Industry',
      type: 'picklist',
      length: 255,
      picklistValues: ['Agriculture', 'Banking', 'Education', 'Technology'],
    },
    { name: 'Website', type: 'url', length: 255 },
    { name: 'Phone', type: 'phone', length: 40 },
    { name: 'AnnualRevenue', type: 'currency' },
    { name: 'NumberOfEmployees', type: 'int' },
    { name: 'Description', type: 'textarea', length: 32000 },
    {
      name: 'External_Id__c',
      label: 'External Id',
      type: 'string',
      length: 255,
      externalId: true,
      idLookup: true,
      unique: true,
    },
    { name: 'Health_Score__c', label: 'Health Score', type: 'double' },
    {
      name: 'Segment__c',
      label: 'Segment',
      type: 'picklist',
      length: 255,
      picklistValues: ['at-risk', 'neutral', 'healthy', 'expanding'],
    },
    { name: 'MRR__c', label: 'MRR', type: 'currency' },
  ],
};

export const contactObject: SalesforceObjectDefinition = {
  name: 'Contact',
  keyPrefix: '003',
  fields: [
    ...auditFields,
    { name: 'FirstName', type: 'string', length: 40 },
    { name: 'LastName', type: 'string', length: 80, nillable: false },
    { name: 'Email', type: 'email', length: 80, idLookup: true },
    { name: 'AccountId', type: 'reference', length: 18, referenceTo: ['Account'] },
    {
      name: 'External_Id__c',
      label: 'External Id',
      type: 'string',
      length: 255,
      externalId: true,
      idLookup: true,
      unique: true,
    },
  ],
};

export const defaultObjects: SalesforceObjectDefinition[] = [accountObject, contactObject];

const textTypes = new Set<SalesforceFieldType>([
  'id',
  'string',
  'textarea',
  'email',
  'phone',
  'url',
  'picklist',
  'multipicklist',
  'reference',
]);

export function isTextType(type: SalesforceFieldType): boolean {
  return textTypes.has(type);
}

/** The describe result Salesforce returns for an object (the subset clients commonly read). */
export function describeSObject(
  object: SalesforceObjectDefinition,
  baseUrl: string,
  version: string,
): Record<string, unknown> {
  const objectUrl = `/services/data/v${version}/sobjects/${object.name}`;
  return {
    name: object.name,
    label: object.label ?? object.name,
    labelPlural: `${object.label ?? object.name}s`,
    keyPrefix: object.keyPrefix,
    custom: object.name.endsWith('__c'),
    createable: true,
    updateable: true,
    deletable: true,
    queryable: true,
    retrieveable: true,
    searchable: true,
    undeletable: true,
    urls: {
      sobject: objectUrl,
      describe: `${objectUrl}/describe`,
      rowTemplate: `${objectUrl}/{ID}`,
    },
    fields: object.fields.map((field) => describeField(field)),
    recordTypeInfos: [],
    childRelationships: [],
    instanceUrl: baseUrl,
  };
}

function describeField(field: SalesforceFieldDefinition): Record<string, unknown> {
  const isId = field.type === 'id';
  return {
    name: field.name,
    label: field.label ?? field.name.replace(/__c$/, '').replace(/_/g, ' '),
    type: field.type,
    soapType: soapType(field.type),
    length: isTextType(field.type) ? (field.length ?? 255) : 0,
    precision: ['double', 'currency', 'percent'].includes(field.type) ? 18 : 0,
    scale: ['double', 'currency', 'percent'].includes(field.type) ? 2 : 0,
    digits: field.type === 'int' ? 9 : 0,
    custom: field.name.endsWith('__c'),
    externalId: field.externalId ?? false,
    idLookup: field.idLookup ?? false,
    unique: field.unique ?? false,
    nillable: field.nillable ?? true,
    createable: field.createable ?? !isId,
    updateable: field.updateable ?? !isId,
    defaultedOnCreate: field.defaultedOnCreate ?? false,
    filterable: true,
    sortable: field.type !== 'textarea',
    caseSensitive: false,
    calculated: false,
    autoNumber: false,
    restrictedPicklist: field.restrictedPicklist ?? false,
    picklistValues: (field.picklistValues ?? []).map((value) => ({
      active: true,
      defaultValue: false,
      label: value,
      value,
    })),
    referenceTo: field.referenceTo ?? [],
    relationshipName: field.type === 'reference' ? relationshipNameOf(field) : null,
  };
}

/** Salesforce's naming: a custom Parent__c is reached as Parent__r, a standard AccountId as Account. */
export function relationshipNameOf(field: SalesforceFieldDefinition): string {
  return (
    field.relationshipName ??
    (/__c$/i.test(field.name) ? field.name.replace(/__c$/i, '__r') : field.name.replace(/Id$/, ''))
  );
}

function soapType(type: SalesforceFieldType): string {
  switch (type) {
    case 'id':
    case 'reference':
      return 'tns:ID';
    case 'boolean':
      return 'xsd:boolean';
    case 'int':
      return 'xsd:int';
    case 'double':
    case 'currency':
    case 'percent':
      return 'xsd:double';
    case 'date':
      return 'xsd:date';
    case 'datetime':
      return 'xsd:dateTime';
    default:
      return 'xsd:string';
  }
}
