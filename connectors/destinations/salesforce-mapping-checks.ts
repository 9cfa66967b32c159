/**
 * A Salesforce sync's mapping checked against describe, in two steps:
 *   - `checkMapping` (before a run, and in `ebb validate --online`): fields that do not exist,
 *     cannot be written in the sync's mode, an upsert key that is neither External ID nor idLookup,
 *     lookups whose relationship, parent object or parent key do not fit. Each problem names the
 *     column and field; the destination fails the sync with all of them before any record is sent.
 *   - `valueFor` (per row, in prepare): a value the field cannot take (too long, not a number, not a
 *     date, not in a restricted picklist) fails that record as invalid, without spending a request.
 *
 * A mapping target is a field of the sync's object (`Name`), or a lookup through a relationship to
 * another object's external id (`Account.External_Id__c` on Contact), which Salesforce resolves on
 * save from `{"Account": {"External_Id__c": "acme"}}`.
 */
import { RecordPreparationError } from './destination';
import { isDecimalText } from './json-number-literal';
import type { DescribeField, SObjectDescribe } from './salesforce-describe';
import { closestNames } from './salesforce-name-suggestions';

export type MappingTarget =
  | { kind: 'field'; field: string }
  /** `idField` is the relationship's reference field (AccountId for Account, Parent__c for Parent__r). */
  | { kind: 'lookup'; relationship: string; field: string; idField: string };

/** `Account.External_Id__c` is a lookup; a name without a dot is a field of the sync's object. */
export function parseTarget(target: string): MappingTarget {
  const dot = target.indexOf('.');
  if (dot < 0) return { kind: 'field', field: target };
  const relationship = target.slice(0, dot);
  // Salesforce names a relationship after its reference field: AccountId -> Account, Parent__c -> Parent__r.
  const idField = /__r$/i.test(relationship) ? `${relationship.slice(0, -3)}__c` : `${relationship}Id`;
  return { kind: 'lookup', relationship, field: target.slice(dot + 1), idField };
}

export interface MappingCheck {
  /** Paths relative to the sync (`mapping.<column>`, `externalId.to`) with their messages. */
  problems: Array<{ path: string[]; message: string }>;
  /** Describe of each directly mapped field by its configured name, for `valueFor`. */
  fields: Map<string, DescribeField>;
}

type Mode = 'upsert' | 'update' | 'insert' | 'mirror';

/** What the mode asks of a field: upserts create and update, update only updates, insert only creates. */
function writeProblem(field: DescribeField, object: string, mode: Mode): string | null {
  const creates = mode !== 'update';
  const updates = mode !== 'insert';
  if (!field.createable && !field.updateable) {
    return `field '${field.name}' of ${object} is read-only; map the column to a writable field or remove it`;
  }
  if (creates && !field.createable) {
    return `field '${field.name}' of ${object} is not createable, and mode ${mode} creates records; use mode update or remove the mapping`;
  }
  if (updates && !field.updateable) {
    return `field '${field.name}' of ${object} is not updateable (set only when a record is created), and mode ${mode} updates records; use mode insert or remove the mapping`;
  }
  return null;
}

function didYouMean(candidates: string[]): string {
  return candidates.length > 0 ? ` Did you mean ${candidates.map((c) => `'${c}'`).join(' or ')}?` : '';
}

const isKey = (field: DescribeField) => Boolean(field.externalId || field.idLookup);

export async function checkMapping(input: {
  object: SObjectDescribe;
  mode: Mode;
  externalId: { from: string; to: string };
  mapping: Record<string, string>;
  /** Describes a lookup's parent object (shared per connection, see salesforce-describe.ts). */
  describe: (object: string) => Promise<SObjectDescribe>;
}): Promise<MappingCheck> {
  const { object, mode, externalId } = input;
  const byName = new Map(object.fields.map((f) => [f.name.toLowerCase(), f]));
  const names = object.fields.map((f) => f.name);
  const problems: MappingCheck['problems'] = [];
  const fields = new Map<string, DescribeField>();

  const extField = byName.get(externalId.to.toLowerCase());
  if (!extField) {
    problems.push({
      path: ['externalId', 'to'],
      message: `field '${externalId.to}' does not exist on ${object.name}.${didYouMean(closestNames(externalId.to, names))}`,
    });
  } else if (!isKey(extField) && extField.type !== 'id') {
    const keys = object.fields.filter(isKey).map((f) => f.name);
    problems.push({
      path: ['externalId', 'to'],
      message:
        `field '${extField.name}' of ${object.name} is neither an External ID nor an idLookup field, so Salesforce cannot key the rows of column '${externalId.from}' by it. ` +
        (keys.length > 0
          ? `Fields it can key records by: ${keys.join(', ')}.`
          : `Mark a unique field of ${object.name} as External ID in Setup.`),
    });
  } else if (extField.type === 'id' && mode === 'insert') {
    problems.push({
      path: ['externalId', 'to'],
      message: `mode insert cannot key records by '${extField.name}', because Salesforce assigns the Id of a new record. Key them by an External ID field, or use mode update`,
    });
  }

  for (const [column, target] of Object.entries(input.mapping)) {
    const parsed = parseTarget(target);
    const path = ['mapping', column];
    if (parsed.kind === 'lookup') {
      const problem = await lookupProblem(parsed, object, mode, input.describe);
      if (problem) problems.push({ path, message: problem });
      continue;
    }
    const field = byName.get(target.toLowerCase());
    if (!field) {
      problems.push({
        path,
        message: `field '${target}' does not exist on ${object.name}.${didYouMean(closestNames(target, names))}`,
      });
      continue;
    }
    const problem = writeProblem(field, object.name, mode);
    if (problem) problems.push({ path, message: problem });
    fields.set(target, field);
  }
  return { problems, fields };
}

async function lookupProblem(
  target: Extract<MappingTarget, { kind: 'lookup' }>,
  object: SObjectDescribe,
  mode: Mode,
  describe: (object: string) => Promise<SObjectDescribe>,
): Promise<string | null> {
  const { relationship, field } = target;
  const reference = object.fields.find((f) => f.relationshipName?.toLowerCase() === relationship.toLowerCase());
  if (!reference) {
    const relationships = object.fields.flatMap((f) => (f.relationshipName ? [f.relationshipName] : []));
    return (
      `'${relationship}' is not a relationship of ${object.name}, so '${relationship}.${field}' cannot look up a parent.` +
      (didYouMean(closestNames(relationship, relationships)) ||
        ` Relationships of ${object.name}: ${relationships.join(', ') || 'none'}.`)
    );
  }
  const writeIssue = writeProblem(reference, object.name, mode);
  if (writeIssue) return `relationship '${relationship}' sets ${writeIssue}`;
  const parents = reference.referenceTo ?? [];
  if (parents.length !== 1) {
    return `relationship '${relationship}' of ${object.name} can point to ${parents.join(', ')}; ebb looks up parents only through relationships to one object`;
  }
  const parent = await describe(parents[0] as string);
  const parentField = parent.fields.find((f) => f.name.toLowerCase() === field.toLowerCase());
  if (!parentField) {
    return `field '${field}' does not exist on ${parent.name}, the object relationship '${relationship}' points to.${didYouMean(
      closestNames(
        field,
        parent.fields.map((f) => f.name),
      ),
    )}`;
  }
  if (!isKey(parentField)) {
    const keys = parent.fields.filter(isKey).map((f) => f.name);
    return `field '${parentField.name}' of ${parent.name} is neither an External ID nor an idLookup field, so Salesforce cannot find a parent by it. Fields it can: ${keys.join(', ') || 'none'}.`;
  }
  return null;
}

const numericTypes = new Set(['int', 'double', 'currency', 'percent', 'long']);
const textTypes = new Set([
  'string',
  'textarea',
  'email',
  'phone',
  'url',
  'picklist',
  'multipicklist',
  'reference',
  'encryptedstring',
  'combobox',
]);

export function isNumericField(field: DescribeField): boolean {
  return numericTypes.has(field.type);
}

/** How sources write the doubles JSON has no literal for (see connectors/sources/source.ts). */
const nonFinite = new Set(['NaN', 'Infinity', '-Infinity']);

const isoDate = /^(\d{4})-(\d{2})-(\d{2})$/;
const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function validDate(text: string): boolean {
  const m = isoDate.exec(text);
  if (!m) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(text);
}

/**
 * The value to send for `value` (already JSON-ready) into `field`, or a RecordPreparationError
 * naming the column and field when Salesforce would refuse it. Nulls pass: they clear the field.
 */
export function valueFor(input: {
  column: string;
  field: DescribeField;
  object: string;
  value: unknown;
  /** The sync, named first in the message: `ebb records` across syncs, and alerts, show it. */
  sync?: string;
}): unknown {
  const { column, field, object, value } = input;
  if (value === null || value === undefined) return value;
  const where = `field ${field.name} of ${object}`;
  const refuse = (code: string, why: string) =>
    new RecordPreparationError(
      `${input.sync ? `sync ${input.sync}: ` : ''}Column '${column}' ${why}; the record was not sent`,
      code,
    );
  if (numericTypes.has(field.type)) {
    if (typeof value === 'string' && nonFinite.has(value)) {
      throw refuse(
        'NOT_A_FINITE_NUMBER',
        `holds ${value}, which the Salesforce number field ${field.name} cannot store; make the model return null or a number there`,
      );
    }
    const numeric =
      typeof value === 'number' ||
      isDecimalText(value) ||
      (typeof value === 'string' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value.trim()));
    if (!numeric)
      throw refuse(
        'NOT_A_NUMBER',
        `holds ${JSON.stringify(value)}, which is not a number, and ${where} is a number (${field.type})`,
      );
    if (field.type === 'int' && !Number.isInteger(Number(value))) {
      throw refuse('NOT_A_NUMBER', `holds ${String(value)}, and ${where} takes whole numbers only (int)`);
    }
    return value;
  }
  if (field.type === 'boolean') {
    if (typeof value === 'boolean' || value === 'true' || value === 'false') return value;
    throw refuse('NOT_A_BOOLEAN', `holds ${JSON.stringify(value)}, and ${where} takes true or false`);
  }
  if (field.type === 'date') {
    // A warehouse DATE arrives as midnight UTC in ISO form; Salesforce's date fields take the day alone.
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T00:00:00(\.000)?Z$/.test(value)) return value.slice(0, 10);
    if (typeof value === 'string' && validDate(value)) return value;
    throw refuse('INVALID_DATE', `holds ${JSON.stringify(value)}, and ${where} takes a date as YYYY-MM-DD`);
  }
  if (field.type === 'datetime') {
    if (typeof value === 'string' && isoDateTime.test(value) && !Number.isNaN(Date.parse(value))) return value;
    throw refuse(
      'INVALID_DATE',
      `holds ${JSON.stringify(value)}, and ${where} takes an ISO 8601 date-time such as 2024-05-01T09:30:00Z`,
    );
  }
  if (!textTypes.has(field.type)) return value;
  const text = typeof value === 'string' ? value : String(value);
  if (field.length && text.length > field.length) {
    throw refuse('STRING_TOO_LONG', `holds ${text.length} characters, more than the ${field.length} ${where} holds`);
  }
  if ((field.type === 'picklist' || field.type === 'multipicklist') && field.restrictedPicklist) {
    const allowed = new Set((field.picklistValues ?? []).filter((p) => p.active !== false).map((p) => p.value));
    const chosen = field.type === 'multipicklist' ? text.split(';') : [text];
    const bad = chosen.filter((v) => !allowed.has(v));
    if (bad.length > 0) {
      throw refuse(
        'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
        `holds ${bad.map((v) => `'${v}'`).join(', ')}, which the restricted picklist ${where} does not offer (values: ${[...allowed].join(', ')})`,
      );
    }
  }
  return value;
}
