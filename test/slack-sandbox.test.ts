import { WebClient, type WebAPIPlatformError } from '@slack/web-api';
import { startSlackSandbox, type SlackSandbox, type SlackSandboxOptions } from '../sandbox/slack/slack-sandbox';

const CHANNELS = [
  { id: 'C0CSALERTS', name: 'cs-alerts' },
  { id: 'C0OUTSIDER', name: 'elsewhere', member: false },
  { id: 'C0ARCHIVED', name: 'old-news', archived: true },
  { id: 'C0SLOWCHAN', name: 'slow', rateLimit: { perSecond: 1, burst: 2 } },
];

let slack: SlackSandbox | undefined;

async function start(options: SlackSandboxOptions = {}): Promise<{ slack: SlackSandbox; client: WebClient }> {
  slack = await startSlackSandbox({ channels: CHANNELS, ...options });
  return { slack, client: clientFor(slack, slack.token) };
}

function clientFor(s: SlackSandbox, token: string | undefined): WebClient {
  return new WebClient(token, {
    slackApiUrl: s.url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logger: silent,
  });
}

const silent = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => 'error' as never,
  setName: () => {},
};

/** The Slack error code a call was refused with. */
async function errorOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    return (error as WebAPIPlatformError).data?.error ?? (error as { code: string }).code;
  }
  throw new Error('the call succeeded');
}

afterEach(async () => {
  await slack?.close();
  slack = undefined;
});

test('posting answers a unique, increasing ts in "<seconds>.<6 digits>" form and the message', async () => {
  const { client } = await start();
  const first = await client.chat.postMessage({ channel: '#cs-alerts', text: 'one' });
  const second = await client.chat.postMessage({ channel: 'C0CSALERTS', text: 'two' });

  expect(first).toMatchObject({
    ok: true,
    channel: 'C0CSALERTS',
    message: { type: 'message', text: 'one', ts: first.ts },
  });
  expect(first.ts).toMatch(/^\d{10}\.\d{6}$/);
  expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
});

test('history lists messages newest first, with metadata only when asked, and pages with a cursor', async () => {
  const { client } = await start({ postRateLimit: { perSecond: 100, burst: 100 } });
  for (const n of [1, 2, 3]) {
    await client.chat.postMessage({
      channel: '#cs-alerts',
      text: `m${n}`,
      metadata: { event_type: 'ebb_record', event_payload: { key: `k${n}` } },
    });
  }

  const plain = await client.conversations.history({ channel: 'C0CSALERTS' });
  const page1 = await client.conversations.history({ channel: 'C0CSALERTS', include_all_metadata: true, limit: 2 });
  const page2 = await client.conversations.history({
    channel: 'C0CSALERTS',
    include_all_metadata: true,
    limit: 2,
    cursor: page1.response_metadata?.next_cursor,
  });

  expect(plain.messages?.map((m) => m.text)).toEqual(['m3', 'm2', 'm1']);
  expect(plain.messages?.[0]).not.toHaveProperty('metadata');
  expect(page1).toMatchObject({
    has_more: true,
    messages: [{ text: 'm3', metadata: { event_type: 'ebb_record', event_payload: { key: 'k3' } } }, { text: 'm2' }],
  });
  expect(page2).toMatchObject({ has_more: false, messages: [{ text: 'm1' }] });
  const oldest = page1.messages?.[1]?.ts;
  expect((await client.conversations.history({ channel: 'C0CSALERTS', oldest })).messages?.map((m) => m.text)).toEqual([
    'm3',
  ]);
});

test('a channel over its posting budget answers 429 with Retry-After and ratelimited', async () => {
  const { slack } = await start();
  const post = (text: string, channel = 'C0SLOWCHAN') =>
    fetch(`${slack.url}chat.postMessage`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${slack.token}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ channel, text }),
    });

  const statuses = [(await post('1')).status, (await post('2')).status];
  const limited = await post('3');

  expect(statuses).toEqual([200, 200]);
  expect(limited.status).toBe(429);
  expect(limited.headers.get('retry-after')).toBe('1');
  expect(await limited.json()).toEqual({ ok: false, error: 'ratelimited' });
  expect((await post('another channel has its own budget', 'C0CSALERTS')).status).toBe(200);
  expect(slack.stats().rateLimited).toBe(1);
});

test('the web client sees the 429 as a rate-limited error carrying Retry-After', async () => {
  const { client } = await start({
    channels: [{ id: 'C0SLOWCHAN', name: 'slow', rateLimit: { perSecond: 0.5, burst: 1 } }],
  });
  await client.chat.postMessage({ channel: '#slow', text: 'ok' });
  await expect(client.chat.postMessage({ channel: '#slow', text: 'too soon' })).rejects.toMatchObject({
    code: 'slack_webapi_rate_limited_error',
    retryAfter: 2,
  });
});

test('missing, unknown and revoked tokens answer not_authed, invalid_auth and token_revoked', async () => {
  const { slack } = await start({ revokedTokens: ['xoxb-old'] });
  expect(await errorOf(clientFor(slack, undefined).auth.test())).toBe('not_authed');
  expect(await errorOf(clientFor(slack, 'xoxb-wrong').auth.test())).toBe('invalid_auth');
  expect(await errorOf(clientFor(slack, 'xoxb-old').auth.test())).toBe('token_revoked');
  expect(await clientFor(slack, slack.token).auth.test()).toMatchObject({
    ok: true,
    team: 'ebb-sandbox',
    bot_id: expect.any(String),
  });
});

test('a token without chat:write answers missing_scope naming the scope', async () => {
  const { client } = await start({ scopes: ['channels:read'] });
  await expect(client.chat.postMessage({ channel: '#cs-alerts', text: 'x' })).rejects.toMatchObject({
    data: { error: 'missing_scope', needed: 'chat:write' },
  });
});

test('posting to unknown, foreign and archived channels answers channel_not_found, not_in_channel and is_archived', async () => {
  const { client } = await start();
  expect(await errorOf(client.chat.postMessage({ channel: '#nope', text: 'x' }))).toBe('channel_not_found');
  expect(await errorOf(client.chat.postMessage({ channel: '#elsewhere', text: 'x' }))).toBe('not_in_channel');
  expect(await errorOf(client.chat.postMessage({ channel: 'C0ARCHIVED', text: 'x' }))).toBe('is_archived');
});

test('empty, oversized and malformed messages answer no_text, msg_too_long and invalid_blocks', async () => {
  const { client, slack } = await start();
  expect(await errorOf(client.chat.postMessage({ channel: '#cs-alerts', text: '' }))).toBe('no_text');
  expect(await errorOf(client.chat.postMessage({ channel: '#cs-alerts', text: 'x'.repeat(40_001) }))).toBe(
    'msg_too_long',
  );
  await expect(
    client.chat.postMessage({ channel: '#cs-alerts', text: 'x', blocks: [{ text: 'no type' }] as never }),
  ).rejects.toMatchObject({
    data: { error: 'invalid_blocks', errors: ['missing required field: type [json-pointer:/blocks/0]'] },
  });
  expect(slack.messages()).toEqual([]);
});

test('update edits in place, text alone drops old blocks, and unknown ts answers message_not_found', async () => {
  const { client, slack } = await start();
  const posted = await client.chat.postMessage({ channel: '#cs-alerts', text: 'v1', blocks: [{ type: 'divider' }] });
  const updated = await client.chat.update({ channel: 'C0CSALERTS', ts: posted.ts as string, text: 'v2' });

  expect(updated).toMatchObject({ ok: true, channel: 'C0CSALERTS', ts: posted.ts, text: 'v2' });
  expect(slack.messages('cs-alerts')).toEqual([{ channel: 'C0CSALERTS', ts: posted.ts, text: 'v2', edits: 1 }]);
  expect(await errorOf(client.chat.update({ channel: 'C0CSALERTS', ts: '1.000001', text: 'x' }))).toBe(
    'message_not_found',
  );
  await client.chat.delete({ channel: 'C0CSALERTS', ts: posted.ts as string });
  expect(await errorOf(client.chat.delete({ channel: 'C0CSALERTS', ts: posted.ts as string }))).toBe(
    'message_not_found',
  );
  expect(slack.messages()).toEqual([]);
});

test('conversations.info and list describe channels by id; info by name is channel_not_found as in Slack', async () => {
  const { client } = await start();
  expect(await client.conversations.info({ channel: 'C0OUTSIDER' })).toMatchObject({
    channel: { id: 'C0OUTSIDER', name: 'elsewhere', is_member: false },
  });
  expect(await errorOf(client.conversations.info({ channel: '#cs-alerts' }))).toBe('channel_not_found');
  const list = await client.conversations.list({ exclude_archived: true });
  expect(list.channels?.map((c) => c.name)).toEqual(['cs-alerts', 'elsewhere', 'slow']);
});

test('injected faults answer 500 or drop the connection, then calls work again', async () => {
  const { client, slack } = await start();
  slack.injectFaults({ fail500: 1, drop: 1 });
  await expect(client.auth.test()).rejects.toMatchObject({ code: 'slack_webapi_http_error', statusCode: 500 });
  await expect(client.auth.test()).rejects.toMatchObject({ code: 'slack_webapi_request_error' });
  await expect(client.auth.test()).resolves.toMatchObject({ ok: true });
  expect(slack.stats()).toMatchObject({ calls: { 'auth.test': 3 }, faults: 2 });
});

test('a fault after commit keeps the message although the client never hears back', async () => {
  const { client, slack } = await start();
  slack.injectFaults({ dropAfterCommit: 1, method: 'chat.postMessage' });
  await expect(client.auth.test()).resolves.toMatchObject({ ok: true });
  await expect(client.chat.postMessage({ channel: '#cs-alerts', text: 'lost answer' })).rejects.toMatchObject({
    code: 'slack_webapi_request_error',
  });
  expect(slack.messages().map((m) => m.text)).toEqual(['lost answer']);
});

test('the /__sandbox/ endpoints show messages and stats, inject faults and reset', async () => {
  const { client, slack } = await start();
  const base = slack.url.replace(/api\/$/, '__sandbox/');
  await client.chat.postMessage({ channel: '#cs-alerts', text: 'hello' });

  expect(await (await fetch(`${base}messages?channel=%23cs-alerts`)).json()).toEqual({
    messages: [expect.objectContaining({ text: 'hello', edits: 0 })],
  });
  expect(await (await fetch(`${base}stats`)).json()).toEqual({
    calls: { 'chat.postMessage': 1 },
    rateLimited: 0,
    faults: 0,
  });
  await fetch(`${base}faults`, { method: 'POST', body: JSON.stringify({ fail500: 1 }) });
  await expect(client.auth.test()).rejects.toMatchObject({ statusCode: 500 });
  await fetch(`${base}reset`, { method: 'POST' });
  expect(slack.messages()).toEqual([]);
  expect(slack.stats()).toEqual({ calls: {}, rateLimited: 0, faults: 0 });
});

test('the API never redirects: unknown paths answer 404', async () => {
  const { slack } = await start();
  const response = await fetch(slack.url.replace(/api\/$/, 'elsewhere'), { redirect: 'manual' });
  expect(response.status).toBe(404);
});
