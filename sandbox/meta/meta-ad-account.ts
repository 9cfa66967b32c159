/**
 * The state behind the Meta sandbox: customer-list audiences, their members and upload sessions,
 * and the checks Meta's Marketing API documents for `POST`/`DELETE /{audience_id}/users`:
 * `payload = { schema, data }` with at most 10,000 rows, every value a SHA-256 hash (64 lowercase
 * hex digits) or empty, and invalid rows counted (`num_invalid_entries`) with a few samples.
 *
 * The sandbox also knows the raw identifiers of the people it was seeded with. It normalises them
 * by Meta's published rules itself (not with ebb's code), so it can tell a hash of a value that was
 * not normalised (an email with capitals or spaces, a phone with a `+`) and count it invalid, where
 * Meta would merely fail to match it.
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';

export const MAX_USERS_PER_REQUEST = 10_000;

/** The schema keys Meta documents for customer-list uploads. */
export const META_SCHEMA_KEYS = new Set([
  'EMAIL',
  'PHONE',
  'GEN',
  'DOBY',
  'DOBM',
  'DOBD',
  'LN',
  'FN',
  'FI',
  'CT',
  'ST',
  'ZIP',
  'COUNTRY',
  'MADID',
  'EXTERN_ID',
  'LOOKALIKE_VALUE',
]);

/** A seeded person's raw identifiers, by Meta key (e.g. { EMAIL: 'Jane@Example.com', PHONE: '+1 650 555 0100' }). */
export type SeedPerson = Partial<Record<string, string>>;

export interface SandboxAudience {
  id: string;
  name: string;
  /** CUSTOM for customer lists; others (LOOKALIKE, WEBSITE) refuse user uploads. */
  subtype?: string;
  /** 200 normal; 471 flagged (uploads blocked until restrictions are resolved). */
  operationStatus?: number;
}

/** A member: the hashes of the row that added it, by key. */
export type MemberRow = Record<string, string>;

export interface SessionBatch {
  method: 'POST' | 'DELETE';
  batchSeq: number;
  lastBatchFlag: boolean;
  numReceived: number;
  numInvalidEntries: number;
}

export interface UploadSession {
  audienceId: string;
  sessionId: string;
  estimatedNumTotal: number | null;
  numReceived: number;
  numInvalidEntries: number;
  numMatched: number;
  /** in_progress until a batch with last_batch_flag arrives, then completed. */
  stage: 'in_progress' | 'completed';
  batches: SessionBatch[];
}

export interface ReceivedValue {
  key: string;
  value: string;
  /** Why the sandbox counted its row invalid, if it did. */
  invalid?: string;
}

export interface GraphError {
  status: number;
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    error_user_title?: string;
    error_user_msg?: string;
  };
}

export type UsersResult = { ok: true; body: Record<string, unknown> } | { ok: false; failure: GraphError };

interface SessionParam {
  session_id?: unknown;
  batch_seq?: unknown;
  last_batch_flag?: unknown;
  estimated_num_total?: unknown;
}

const IDENTIFYING_KEYS = ['EMAIL', 'PHONE', 'MADID', 'EXTERN_ID'];

/** The pairs that identify a person; a row with none of them is identified by all its values together. */
function identifyingPairs(row: MemberRow): string[] {
  const pairs = IDENTIFYING_KEYS.filter((k) => row[k]).map((k) => `${k}:${row[k]}`);
  return pairs.length ? pairs : [JSON.stringify(Object.entries(row).sort())];
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const isHash = (value: string) => /^[0-9a-f]{64}$/.test(value);

/** Meta's published normalisation for the keys the sandbox can recognise un-normalised. */
function normalise(key: string, raw: string): string {
  const text = raw.trim();
  switch (key) {
    case 'EMAIL':
    case 'COUNTRY':
    case 'EXTERN_ID':
      return key === 'EXTERN_ID' ? text : text.toLowerCase();
    case 'PHONE':
      return text.replace(/[^0-9]/g, '').replace(/^0+/, '');
    case 'FN':
    case 'LN':
    case 'CT':
      return text.toLowerCase().replace(/[^\p{L}]/gu, '');
    default:
      return text.toLowerCase();
  }
}

/** Ways people get a value wrong before hashing: as typed, only trimmed, only lowercased. */
function careless(raw: string): string[] {
  return [raw, raw.trim(), raw.toLowerCase(), raw.trim().toUpperCase(), raw.replace(/\s/g, '')];
}

export class MetaAdAccount {
  private readonly audiences = new Map<string, SandboxAudience>();
  private members = new Map<string, MemberRow[]>();
  private sessions = new Map<string, UploadSession>();
  private received: ReceivedValue[] = [];
  /** Hash -> the key whose correctly normalised seeded value it is. */
  private readonly normalisedHashes = new Map<string, string>();
  /** Hash of a seeded value that skipped normalisation -> its key. */
  private readonly carelessHashes = new Map<string, string>();

  constructor(
    audiences: SandboxAudience[],
    people: SeedPerson[],
    private readonly file?: string,
  ) {
    for (const audience of audiences) this.audiences.set(audience.id, audience);
    for (const person of people) {
      for (const [key, raw] of Object.entries(person)) {
        if (raw === undefined) continue;
        this.normalisedHashes.set(sha256(normalise(key, raw)), key);
      }
    }
    for (const person of people) {
      for (const [key, raw] of Object.entries(person)) {
        if (raw === undefined) continue;
        for (const variant of careless(raw)) {
          const hash = sha256(variant);
          if (!this.normalisedHashes.has(hash)) this.carelessHashes.set(hash, key);
        }
      }
    }
    this.load();
  }

  audience(id: string): SandboxAudience | undefined {
    return this.audiences.get(id);
  }

  /** The hash Meta would compute for a seeded raw value (for tests: "is this person a member?"). */
  static normalisedHash(key: string, raw: string): string {
    return sha256(normalise(key, raw));
  }

  users(
    method: 'POST' | 'DELETE',
    audienceId: string,
    payloadText: string | undefined,
    sessionText: string | undefined,
  ): UsersResult {
    const invalid = (message: string, subcode?: number): UsersResult => ({
      ok: false,
      failure: {
        status: 400,
        error: {
          message: `(#100) ${message}`,
          type: 'OAuthException',
          code: 100,
          ...(subcode ? { error_subcode: subcode } : {}),
        },
      },
    });
    const audience = this.audiences.get(audienceId);
    if (!audience) {
      return invalid(
        `Unsupported ${method.toLowerCase()} request. Object with ID '${audienceId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`,
        33,
      );
    }
    if ((audience.subtype ?? 'CUSTOM') !== 'CUSTOM')
      return invalid('Users can only be added to a customer list custom audience');
    if (audience.operationStatus === 471) {
      return {
        ok: false,
        failure: {
          status: 400,
          error: {
            message: 'Invalid parameter',
            type: 'OAuthException',
            code: 100,
            error_subcode: 1713230,
            error_user_title: 'Audience Upload Blocked',
            error_user_msg:
              'Before updating user memberships, resolve the integrity restrictions on this audience in Audience Manager',
          },
        },
      };
    }
    if (!payloadText) return invalid('The parameter payload is required');
    let payload: { schema?: unknown; data?: unknown };
    try {
      payload = JSON.parse(payloadText) as typeof payload;
    } catch {
      return invalid('Param payload must be a JSON object');
    }
    const schema = typeof payload.schema === 'string' ? [payload.schema] : payload.schema;
    if (
      !Array.isArray(schema) ||
      schema.length === 0 ||
      !schema.every((k) => typeof k === 'string' && META_SCHEMA_KEYS.has(k))
    ) {
      return invalid(`Invalid schema: expected keys among ${[...META_SCHEMA_KEYS].join(', ')}`);
    }
    if (!Array.isArray(payload.data)) return invalid('Param payload[data] must be an array');
    if (payload.data.length > MAX_USERS_PER_REQUEST) {
      return invalid(
        `Payload exceeds ${MAX_USERS_PER_REQUEST} rows (got ${payload.data.length}): split it into several requests`,
      );
    }
    let session: SessionParam | null = null;
    if (sessionText) {
      try {
        session = JSON.parse(sessionText) as SessionParam;
      } catch {
        return invalid('Param session must be a JSON object');
      }
      if (
        !/^\d+$/.test(String(session.session_id ?? '')) ||
        !Number.isInteger(session.batch_seq) ||
        (session.batch_seq as number) < 1 ||
        typeof session.last_batch_flag !== 'boolean'
      ) {
        return invalid('Param session requires session_id (int64), batch_seq (from 1) and last_batch_flag (bool)');
      }
    }

    const keys = schema as string[];
    const samples: Record<string, string> = {};
    let numInvalid = 0;
    let numMatched = 0;
    const rows: MemberRow[] = [];
    for (const entry of payload.data as unknown[]) {
      const values = Array.isArray(entry) ? entry : [entry];
      const why = this.rowProblem(keys, values);
      for (let i = 0; i < keys.length; i++) {
        const value = values[i];
        if (typeof value === 'string' && value !== '') {
          this.received.push({ key: keys[i] as string, value, ...(why ? { invalid: why.reason } : {}) });
        }
      }
      if (why) {
        numInvalid++;
        if (Object.keys(samples).length < 10) samples[why.sample] = why.reason;
        continue;
      }
      const row: MemberRow = {};
      keys.forEach((key, i) => {
        const value = values[i];
        if (typeof value === 'string' && value !== '') row[key] = value;
      });
      if (Object.values(row).some((hash) => this.normalisedHashes.has(hash))) numMatched++;
      rows.push(row);
    }
    this.apply(audienceId, method, rows);

    const received = (payload.data as unknown[]).length;
    if (session) this.recordSession(audienceId, method, session, received, numInvalid, numMatched);
    this.save();
    return {
      ok: true,
      body: {
        audience_id: audienceId,
        ...(session ? { session_id: String(session.session_id) } : {}),
        num_received: received,
        num_invalid_entries: numInvalid,
        invalid_entry_samples: samples,
      },
    };
  }

  /**
   * Meta matches a row to a person by any of its identifying keys (email, phone, device or external
   * id; a country or a first name alone identifies nobody): that person is added (replaced) or removed.
   */
  private apply(audienceId: string, method: 'POST' | 'DELETE', rows: MemberRow[]): void {
    const members = new Map<number, MemberRow>((this.members.get(audienceId) ?? []).map((m, i) => [i, m]));
    let next = members.size;
    const byPair = new Map<string, number>();
    for (const [id, member] of members) for (const pair of identifyingPairs(member)) byPair.set(pair, id);
    for (const row of rows) {
      for (const pair of identifyingPairs(row)) {
        const id = byPair.get(pair);
        const member = id === undefined ? undefined : members.get(id);
        if (id === undefined || !member) continue;
        members.delete(id);
        for (const gone of identifyingPairs(member)) byPair.delete(gone);
      }
      if (method === 'POST') {
        members.set(next, row);
        for (const pair of identifyingPairs(row)) byPair.set(pair, next);
        next++;
      }
    }
    this.members.set(audienceId, [...members.values()]);
  }

  private rowProblem(keys: string[], values: unknown[]): { sample: string; reason: string } | null {
    if (values.length !== keys.length) {
      return {
        sample: JSON.stringify(values).slice(0, 80),
        reason: `row has ${values.length} values for ${keys.length} schema keys`,
      };
    }
    let present = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const value = values[i];
      if (value === '' || value === null || value === undefined) continue;
      present++;
      if (key === 'LOOKALIKE_VALUE') continue;
      if (typeof value !== 'string' || !isHash(value)) {
        return { sample: String(value), reason: `${key} is not a SHA-256 hash (64 lowercase hex digits)` };
      }
      if (this.carelessHashes.has(value)) {
        return { sample: value, reason: `${key} is the hash of a value that was not normalised` };
      }
    }
    return present === 0 ? { sample: '', reason: 'row has no values' } : null;
  }

  private recordSession(
    audienceId: string,
    method: 'POST' | 'DELETE',
    session: SessionParam,
    received: number,
    invalid: number,
    matched: number,
  ): void {
    const sessionId = String(session.session_id);
    const id = `${audienceId}/${sessionId}`;
    const current: UploadSession = this.sessions.get(id) ?? {
      audienceId,
      sessionId,
      estimatedNumTotal: null,
      numReceived: 0,
      numInvalidEntries: 0,
      numMatched: 0,
      stage: 'in_progress',
      batches: [],
    };
    const batchSeq = session.batch_seq as number;
    // A batch sent again (a retry after a lost answer) is the same batch, counted once.
    if (!current.batches.some((b) => b.batchSeq === batchSeq && b.method === method)) {
      current.batches.push({
        method,
        batchSeq,
        lastBatchFlag: session.last_batch_flag === true,
        numReceived: received,
        numInvalidEntries: invalid,
      });
      current.batches.sort((a, b) => a.batchSeq - b.batchSeq);
      current.numReceived += received;
      current.numInvalidEntries += invalid;
      current.numMatched += matched;
    }
    if (typeof session.estimated_num_total === 'number') current.estimatedNumTotal = session.estimated_num_total;
    if (session.last_batch_flag === true) current.stage = 'completed';
    this.sessions.set(id, current);
  }

  membersOf(audienceId: string): MemberRow[] {
    return structuredClone(this.members.get(audienceId) ?? []);
  }

  sessionsOf(audienceId?: string): UploadSession[] {
    return [...this.sessions.values()].filter((s) => audienceId === undefined || s.audienceId === audienceId);
  }

  receivedValues(): ReceivedValue[] {
    return [...this.received];
  }

  reset(): void {
    this.members = new Map();
    this.sessions = new Map();
    this.received = [];
    this.save();
  }

  private load(): void {
    if (!this.file || !fs.existsSync(this.file)) return;
    const saved = JSON.parse(fs.readFileSync(this.file, 'utf8')) as {
      members?: Record<string, MemberRow[]>;
      sessions?: UploadSession[];
    };
    this.members = new Map(Object.entries(saved.members ?? {}));
    this.sessions = new Map((saved.sessions ?? []).map((s) => [`${s.audienceId}/${s.sessionId}`, s]));
  }

  private save(): void {
    if (!this.file) return;
    const data = { members: Object.fromEntries(this.members), sessions: [...this.sessions.values()] };
    fs.writeFileSync(`${this.file}.tmp`, JSON.stringify(data));
    fs.renameSync(`${this.file}.tmp`, this.file);
  }
}
