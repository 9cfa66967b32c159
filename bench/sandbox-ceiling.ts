/**
 * The physical limit of this machine: the same 200-record upserts as the baseline, with every body
 * serialised before the clock starts, sent over keep-alive sockets with node:http and checked only
 * for a 200 status and no `"success":false`. No client does less per request, so no client sending
 * these records to this sandbox at this latency can be faster.
 */
import http from 'node:http';
import { readAccounts, type BaselineTarget } from './baseline-scripts';

export class CeilingRequestError extends Error {
  constructor(detail: string) {
    super(`the sandbox ceiling loop got a failed upsert: ${detail}`);
    this.name = new.target.name;
  }
}

export interface PreparedCeiling {
  bodies: Buffer[];
  records: number;
  token: string;
  url: URL;
}

function request(
  agent: http.Agent | undefined,
  url: URL,
  method: string,
  headers: http.OutgoingHttpHeaders,
  body: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method, agent, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads and serialises every record and takes a token: the work the timed loop leaves out. */
export async function prepareCeiling(target: BaselineTarget, batchSize: number): Promise<PreparedCeiling> {
  const records = await readAccounts(target);
  const bodies: Buffer[] = [];
  for (let i = 0; i < records.length; i += batchSize) {
    const chunk = records.slice(i, i + batchSize).map((r) => ({ attributes: { type: 'Account' }, ...r }));
    bodies.push(Buffer.from(JSON.stringify({ allOrNone: false, records: chunk })));
  }
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: target.clientId,
    client_secret: target.clientSecret,
  });
  const login = new URL('/services/oauth2/token', target.loginUrl);
  const answer = await request(
    undefined,
    login,
    'POST',
    { 'content-type': 'application/x-www-form-urlencoded' },
    Buffer.from(form.toString()),
  );
  if (answer.status !== 200) throw new CeilingRequestError(`token request answered ${answer.status}`);
  const token = (JSON.parse(answer.text) as { access_token: string }).access_token;
  const url = new URL('/services/data/v60.0/composite/sobjects/Account/External_Id__c', target.loginUrl);
  return { bodies, records: records.length, token, url };
}

/** Sends every prepared body with `concurrency` requests in flight; returns the records sent. */
export async function runCeiling(prepared: PreparedCeiling, concurrency: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const headers = { authorization: `Bearer ${prepared.token}`, 'content-type': 'application/json' };
  let next = 0;
  const lane = async () => {
    while (next < prepared.bodies.length) {
      const body = prepared.bodies[next++] as Buffer;
      const { status, text } = await request(agent, prepared.url, 'PATCH', headers, body);
      if (status !== 200 || text.includes('"success":false'))
        throw new CeilingRequestError(`${status} ${text.slice(0, 300)}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    agent.destroy();
  }
  return prepared.records;
}
