import { createHash } from 'node:crypto';
import {
  FatalDestinationError,
  TransientDestinationError,
  type Destination,
  type Operation,
  type RecordOutcome,
  type RecordToDeliver,
  type Row,
} from '../connectors/destinations/destination';
import { postAlert, slackConnector, type SlackConnection } from '../connectors/destinations/slack-destination';
import { startSlackSandbox, type SlackSandbox, type SlackSandboxOptions } from '../sandbox/slack/slack-sandbox';

const CHANNELS = [
  { id: 'C0CSALERTS', name: 'cs-alerts' },
  { id: 'C0EBBALERT', name: 'ebb-alerts' },
  { id: 'C0SLOWCHAN', name: 'slow', rateLimit: { perSecond: 1, burst: 1 } },
  { id: 'C0ARCHIVED', name: 'old-news', archived: true },
];
const TEMPLATE = '*{{ name }}* is at risk (health {{ health }}, MRR {{ mrr | currency }})';

let slack: SlackSandbox | undefined;
const open: Destination[] = [];

async function sandbox(options: SlackSandboxOptions = {}): Promise<SlackSandbox> {
  slack = await startSlackSandbox({ channels: CHANNELS, postRateLimit: { perSecond: 100, burst: 100 }, ...options });
  return slack;
}

function running(): SlackSandbox {
  if (!slack) throw new Error('start the sandbox first');
  return slack;
}

function connection(overrides: Partial<SlackConnection> = {}): SlackConnection {
  return slackConnector.connectionSchema.parse({
    type: 'slack',
    token: running().token,
    apiUrl: running().url,
    limits: { postsPerChannelPerSecond: 100 },
    ...overrides,
  });
}

function destination(options: Record<string, unknown> = {}, conn: SlackConnection = connection()): Destination {
  const sync = slackConnector.syncOptionsSchema.parse({
    destination: 'slack',
    channel: '#cs-alerts',
    template: TEMPLATE,
    ...options,
  });
  const dest = slackConnector.create({
    connection: conn,
    sync: { ...sync, id: 'at-risk-to-slack', primaryKey: 'account_id' },
  });
  open.push(dest);
  return dest;
}

/** What the engine does between prepare and deliver: store the payload as JSON, hash it, remember the destination id. */
function toDeliver(
  dest: Destination,
  rows: Row[],
  destinationIds: Record<string, string | null> = {},
  operation: Operation = 'upsert',
): RecordToDeliver[] {
  return rows.map((row) => {
    const { key, payload } = dest.prepare(row);
    const stored = JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
    const hash = createHash('sha256').update(JSON.stringify(stored)).digest('hex');
    return { key, payload: stored, hash, operation, destinationId: destinationIds[key] ?? null };
  });
}

function ids(outcomes: RecordOutcome[]): Record<string, string | null> {
  return Object.fromEntries(outcomes.map((o) => [o.key, o.status === 'succeeded' ? o.destinationId : null]));
}

const ctx = (attempt = 1) => ({ syncId: 'at-risk-to-slack', attempt, heartbeat: () => undefined });

const account = (n: number, changes: Row = {}): Row => ({
  account_id: `acc-${n}`,
  name: `Account ${n}`,
  health: 40 + n,
  mrr: 1000 * n,
  ...changes,
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
  await slack?.close();
  slack = undefined;
});

test('N rows produce N messages', async () => {
  const slack = await sandbox();
  const dest = destination();
  const outcomes = await dest.deliver(
    toDeliver(
      dest,
      [1, 2, 3, 4, 5].map((n) => account(n)),
    ),
    ctx(),
  );

  expect(outcomes.every((o) => o.status === 'succeeded')).toBe(true);
  const messages = slack.messages('#cs-alerts');
  expect(messages.map((m) => m.text)).toEqual(
    [1, 2, 3, 4, 5].map((n) => `*Account ${n}* is at risk (health ${40 + n}, MRR $${n},000.00)`),
  );
  expect(outcomes.map((o) => o.status === 'succeeded' && o.destinationId)).toEqual(
    messages.map((m) => `C0CSALERTS:${m.ts}`),
  );
});

test('a changed row updates its message in place (same ts, new text)', async () => {
  const slack = await sandbox();
  const dest = destination();
  const first = await dest.deliver(toDeliver(dest, [account(1)]), ctx());
  const second = await dest.deliver(toDeliver(dest, [account(1, { health: 12 })], ids(first)), ctx());

  const [message, ...others] = slack.messages('#cs-alerts');
  expect(others).toEqual([]);
  expect(message?.text).toBe('*Account 1* is at risk (health 12, MRR $1,000.00)');
  expect(message?.edits).toBe(1);
  expect(second).toEqual([
    { key: 'acc-1', status: 'succeeded', destinationId: `C0CSALERTS:${message?.ts}`, created: false },
  ]);
});

test('a re-executed batch after a crash posts nothing twice', async () => {
  const slack = await sandbox();
  const dest = destination();
  const rows = [1, 2, 3].map((n) => account(n));
  // Attempt 1 posted everything, then the worker died before the engine recorded any ts.
  const lost = await dest.deliver(toDeliver(dest, rows), ctx(1));
  const retried = await destination().deliver(toDeliver(dest, rows), ctx(2));

  expect(slack.messages('#cs-alerts')).toHaveLength(3);
  expect(slack.stats().calls['chat.postMessage']).toBe(3);
  expect(retried).toEqual(lost);
});

test('a post whose answer was lost is adopted, not repeated, when Temporal retries the batch', async () => {
  const slack = await sandbox();
  const dest = destination();
  const records = toDeliver(dest, [account(1), account(2)]);
  slack.injectFaults({ dropAfterCommit: 1, method: 'chat.postMessage' });

  await expect(dest.deliver(records, ctx(1))).rejects.toBeInstanceOf(TransientDestinationError);
  const outcomes = await dest.deliver(records, ctx(2));

  expect(slack.messages('#cs-alerts').map((m) => m.text)).toEqual([
    expect.stringContaining('Account 1'),
    expect.stringContaining('Account 2'),
  ]);
  expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
});

test('a channel limited to 1 msg/s answers 429 with Retry-After and deliver surfaces it as TransientDestinationError with retryAfterMs', async () => {
  const slack = await sandbox();
  const dest = destination({ channel: '#slow' });
  const records = toDeliver(dest, [account(1), account(2)]);

  const error = await dest.deliver(records, ctx(1)).catch((e: unknown) => e);

  expect(error).toBeInstanceOf(TransientDestinationError);
  expect((error as TransientDestinationError).retryAfterMs).toBe(1000);
  expect(slack.stats().rateLimited).toBe(1);
  // After the advised wait the retried batch finishes without posting the first row again.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const outcomes = await dest.deliver(records, ctx(2));
  expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
  expect(slack.messages('#slow')).toHaveLength(2);
});

test('the connector paces its own posts to a channel so a batch does not run into 429s', async () => {
  const slack = await sandbox();
  const dest = destination({ channel: '#slow' }, connection({ limits: { postsPerChannelPerSecond: 1 } }));
  const outcomes = await dest.deliver(toDeliver(dest, [account(1), account(2)]), ctx());

  expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
  expect(slack.stats().rateLimited).toBe(0);
});

test('unknown channel fails that record with channel_not_found', async () => {
  await sandbox();
  const dest = destination({ channel: undefined, channelFrom: 'owner_channel' });
  const outcomes = await dest.deliver(
    toDeliver(dest, [
      account(1, { owner_channel: '#cs-alerts' }),
      account(2, { owner_channel: '#no-such-channel' }),
      account(3, { owner_channel: 'old-news' }),
    ]),
    ctx(),
  );

  expect(outcomes[0]?.status).toBe('succeeded');
  expect(outcomes[1]).toEqual({
    key: 'acc-2',
    status: 'failed',
    errorCode: 'channel_not_found',
    errorMessage: expect.stringContaining('#no-such-channel'),
  });
  expect(outcomes[2]).toMatchObject({ status: 'failed', errorCode: 'is_archived' });
});

test('blocks Slack rejects fail that record with invalid_blocks and the offending pointer', async () => {
  const slack = await sandbox();
  const dest = destination({ blocks: '[{"type":"{{ kind }}","text":{"type":"mrkdwn","text":"{{ name }}"}}]' });
  const outcomes = await dest.deliver(
    toDeliver(dest, [account(1, { kind: 'section' }), account(2, { kind: 'banner' })]),
    ctx(),
  );

  expect(outcomes[0]?.status).toBe('succeeded');
  expect(outcomes[1]).toMatchObject({
    status: 'failed',
    errorCode: 'invalid_blocks',
    errorMessage: expect.stringContaining('/blocks/0/type'),
  });
  expect(slack.messages('#cs-alerts')[0]?.blocks).toEqual([
    { type: 'section', text: { type: 'mrkdwn', text: 'Account 1' } },
  ]);
});

test('a revoked token is fatal', async () => {
  await sandbox({ revokedTokens: ['xoxb-revoked'] });
  const dest = destination({}, connection({ token: 'xoxb-revoked' }));

  await expect(dest.check()).rejects.toThrow(FatalDestinationError);
  await expect(dest.deliver(toDeliver(dest, [account(1)]), ctx())).rejects.toThrow(
    /token_revoked.*destinations\.slack\.token.*SLACK_BOT_TOKEN/,
  );
});

test('check names a channel the bot cannot see', async () => {
  await sandbox();
  await expect(destination({ channel: '#nowhere' }).check()).rejects.toThrow(
    /syncs\.at-risk-to-slack\.channel: Slack has no channel #nowhere/,
  );
  await expect(destination().check()).resolves.toBeUndefined();
});

test('an unknown filter in a template is reported with the sync path', async () => {
  await sandbox();
  const sync = slackConnector.syncOptionsSchema.parse({ channel: '#cs-alerts', template: '{{ name | shout }}' });

  expect(slackConnector.staticCheck?.({ sync, modelColumns: null })).toEqual([
    expect.objectContaining({
      path: ['template'],
      message: expect.stringContaining('undefined filter: shout, line:1, col:1'),
    }),
  ]);
  expect(() => destination({ template: '{{ name | shout }}' })).toThrow(
    /syncs\.at-risk-to-slack\.template: .*undefined filter: shout/,
  );
});

test('the static check names template variables and channelFrom columns the model does not select', () => {
  const sync = slackConnector.syncOptionsSchema.parse({
    channelFrom: 'owner',
    template: '{{ nmae }} {{ mrr }}',
    blocks: '[{{ extra | json }}]',
  });

  const problems = slackConnector.staticCheck?.({ sync, modelColumns: ['account_id', 'name', 'mrr'] });

  expect(problems?.map((p) => [p.path, p.message])).toEqual([
    [['template'], '{{ nmae }} is not a column of the model'],
    [['blocks'], '{{ extra }} is not a column of the model'],
    [['channelFrom'], 'channelFrom names owner, which is not a column of the model'],
  ]);
});

test('a sync needs exactly one of channel and channelFrom', () => {
  expect(slackConnector.syncOptionsSchema.safeParse({ template: 'x' }).success).toBe(false);
  expect(slackConnector.syncOptionsSchema.safeParse({ template: 'x', channel: '#a', channelFrom: 'c' }).success).toBe(
    false,
  );
});

test('mrkdwn special characters in values are escaped', async () => {
  const slack = await sandbox();
  const dest = destination({ template: '{{ name }} ({{ note | raw }})' });
  await dest.deliver(
    toDeliver(dest, [account(1, { name: 'A&B <Ltd> <!channel>', note: '<https://example.com|site>' })]),
    ctx(),
  );

  expect(slack.messages('#cs-alerts')[0]?.text).toBe(
    'A&amp;B &lt;Ltd&gt; &lt;!channel&gt; (<https://example.com|site>)',
  );
});

test('a row whose template cannot render is refused at prepare with TEMPLATE_ERROR', async () => {
  await sandbox();
  const dest = destination({ template: '{{ owner }} owns {{ name }}' });
  expect(() => dest.prepare(account(1))).toThrow(
    expect.objectContaining({
      errorCode: 'TEMPLATE_ERROR',
      message: expect.stringContaining('undefined variable: owner'),
    }),
  );
});

test('mirror mode deletes the message', async () => {
  const slack = await sandbox();
  const dest = destination({ mode: 'mirror' });
  const posted = await dest.deliver(toDeliver(dest, [account(1), account(2)]), ctx());
  const deleted = await dest.deliver(toDeliver(dest, [account(1)], ids(posted), 'delete'), ctx());
  // Deleting again (a re-executed batch) still succeeds: the message is already gone.
  const again = await dest.deliver(toDeliver(dest, [account(1)], ids(posted), 'delete'), ctx(2));

  expect(slack.messages('#cs-alerts').map((m) => m.text)).toEqual([expect.stringContaining('Account 2')]);
  expect(deleted).toEqual([{ key: 'acc-1', status: 'succeeded', destinationId: null }]);
  expect(again).toEqual(deleted);
});

test('append mode posts a new message for every change', async () => {
  const slack = await sandbox();
  const dest = destination({ mode: 'append' });
  const first = await dest.deliver(toDeliver(dest, [account(1)]), ctx());
  const second = await dest.deliver(toDeliver(dest, [account(1, { health: 3 })], ids(first)), ctx());
  // The row changes back: its first message has the same content but is an older change, so a retry still posts.
  const third = await dest.deliver(toDeliver(dest, [account(1)], ids(second)), ctx(2));

  expect(slack.messages('#cs-alerts').map((m) => m.text)).toEqual([
    expect.stringContaining('health 41'),
    expect.stringContaining('health 3'),
    expect.stringContaining('health 41'),
  ]);
  expect(third[0]).toMatchObject({ status: 'succeeded', created: true });
});

test('a message deleted by hand in Slack is posted again on the next change', async () => {
  const slack = await sandbox();
  const dest = destination();
  const first = await dest.deliver(toDeliver(dest, [account(1)]), ctx());
  await fetch(`${slack.url}chat.delete`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${slack.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ channel: 'C0CSALERTS', ts: slack.messages()[0]?.ts }),
  });

  const second = await dest.deliver(toDeliver(dest, [account(1, { health: 5 })], ids(first)), ctx());

  expect(slack.messages('#cs-alerts').map((m) => m.text)).toEqual([expect.stringContaining('health 5')]);
  expect(second[0]).toMatchObject({ status: 'succeeded', created: true });
});

test('a row whose channel changes moves its message to the new channel', async () => {
  const slack = await sandbox();
  const dest = destination({ channel: undefined, channelFrom: 'owner_channel' });
  const first = await dest.deliver(toDeliver(dest, [account(1, { owner_channel: '#cs-alerts' })]), ctx());
  const moved = await dest.deliver(toDeliver(dest, [account(1, { owner_channel: 'C0EBBALERT' })], ids(first)), ctx());

  expect(slack.messages('#cs-alerts')).toEqual([]);
  expect(slack.messages('#ebb-alerts').map((m) => `C0EBBALERT:${m.ts}`)).toEqual([
    moved[0]?.status === 'succeeded' && moved[0].destinationId,
  ]);
});

test('channels given by id are used without looking them up, names cost one listing', async () => {
  const slack = await sandbox();
  const byId = destination({ channel: 'C0CSALERTS' });
  await byId.deliver(toDeliver(byId, [account(1), account(2)]), ctx());
  const byName = destination();
  await byName.deliver(toDeliver(byName, [account(3), account(4)]), ctx());

  expect(slack.stats().calls).toEqual({ 'chat.postMessage': 4, 'conversations.list': 1 });
});

test('a 500 from Slack is transient', async () => {
  const slack = await sandbox();
  const dest = destination();
  slack.injectFaults({ fail500: 1 });
  await expect(dest.deliver(toDeliver(dest, [account(1)]), ctx())).rejects.toBeInstanceOf(TransientDestinationError);
});

test('postAlert posts once per idempotency key', async () => {
  const slack = await sandbox();
  const alert = {
    connection: connection(),
    channel: '#ebb-alerts',
    text: 'run 3 of accounts-to-sf failed',
    idempotencyKey: 'ebb-alert:accounts-to-sf:3',
  };

  const first = await postAlert(alert);
  const second = await postAlert(alert);
  await postAlert({ ...alert, idempotencyKey: 'ebb-alert:accounts-to-sf:4' });

  expect(first.posted).toBe(true);
  expect(second).toEqual({ ...first, posted: false });
  expect(slack.messages('#ebb-alerts')).toHaveLength(2);
});

test('postAlert to a channel the bot cannot see is fatal and names the channel', async () => {
  await sandbox();
  await expect(
    postAlert({ connection: connection(), channel: '#gone', text: 'x', idempotencyKey: 'k' }),
  ).rejects.toThrow(/#gone.*channel_not_found/);
});
