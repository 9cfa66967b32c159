/** The ebb.yaml shapes of a Meta Custom Audiences destination (`destinations.<name>`) and of a sync's keys. */
import { z } from 'zod';
import {
  IDENTIFIER_RULES,
  IDENTIFIER_TYPES,
  type IdentifierType,
  type MappedIdentifier,
} from './meta-audience-identifiers';

/** Meta accepts at most 10,000 rows per users request. */
export const META_MAX_BATCH = 10_000;

/** add (the default) only adds a row's person; mirror also removes people whose rows left the model. */
export const META_MODES = ['add', 'mirror'] as const;

const metaLimitsSchema = z.strictObject({
  batchSize: z.number().int().positive().max(META_MAX_BATCH, 'Meta takes at most 10,000 users a request').optional(),
  maxConcurrency: z.number().int().positive().optional(),
  requestsPerSecond: z.number().positive().optional(),
});

export const metaConnectionSchema = z.strictObject({
  type: z.literal('meta-audiences'),
  accessToken: z
    .string()
    .min(1, 'set a system user access token with ads_management, usually accessToken: ${META_ACCESS_TOKEN}'),
  /** Graph API base URL, e.g. the sandbox's http://127.0.0.1:PORT; empty or unset means graph.facebook.com. */
  apiUrl: z.string().optional(),
  apiVersion: z
    .string()
    .regex(/^v\d+\.\d+$/, 'a Graph API version such as v24.0')
    .default('v24.0'),
  limits: metaLimitsSchema.optional(),
});
export type MetaConnection = z.infer<typeof metaConnectionSchema>;

const mappedIdentifierSchema = z.enum([...IDENTIFIER_TYPES, 'DOB', 'MADID']);

export const metaSyncOptionsSchema = z
  .object({
    /** The sync's destination name, used to point at the right token in error messages. */
    destination: z.string().optional(),
    /** Quoted: audience ids have 17 digits or more, beyond what a YAML number holds exactly. */
    audienceId: z
      .string({ error: 'give the custom audience id as a quoted string, e.g. audienceId: "23851234567890123"' })
      .regex(/^\d+$/, 'a custom audience id is digits only, e.g. "23851234567890123"'),
    /** Model column -> Meta key, e.g. { email: EMAIL, phone: PHONE, first_name: FN }. */
    identifiers: z
      .record(z.string().min(1), mappedIdentifierSchema)
      .refine((m) => Object.keys(m).length > 0, 'map at least one column, e.g. identifiers: { email: EMAIL }'),
    mode: z.enum(META_MODES).default('add'),
  })
  .superRefine((options, ctx) => {
    const seen = new Map<string, string>();
    for (const [column, type] of Object.entries(options.identifiers)) {
      if (type === 'MADID') {
        ctx.addIssue({
          code: 'custom',
          path: ['identifiers', column],
          message:
            'MADID is not supported: Meta wants mobile advertiser ids unhashed, and ebb keeps no raw identifier in its state store',
        });
        continue;
      }
      const keys = type === 'DOB' ? ['DOBY', 'DOBM', 'DOBD'] : [type];
      for (const key of keys) {
        const other = seen.get(key);
        if (other !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['identifiers', column],
            message: `columns ${other} and ${column} both give ${key}: map one column to each Meta key`,
          });
        }
        seen.set(key, column);
      }
    }
  });
export type MetaSyncOptions = z.infer<typeof metaSyncOptionsSchema>;

/** The Meta keys a sync sends, in a stable order, and the column each comes from (DOB split in three). */
export function identifierSchema(identifiers: Record<string, MappedIdentifier | 'MADID'>): Array<{
  type: IdentifierType;
  column: string;
  fromDate: boolean;
}> {
  const out: Array<{ type: IdentifierType; column: string; fromDate: boolean }> = [];
  for (const type of IDENTIFIER_TYPES) {
    for (const [column, mapped] of Object.entries(identifiers)) {
      if (mapped === type) out.push({ type, column, fromDate: false });
      if (mapped === 'DOB' && (type === 'DOBY' || type === 'DOBM' || type === 'DOBD'))
        out.push({ type, column, fromDate: true });
    }
  }
  return out;
}

export { IDENTIFIER_RULES };
