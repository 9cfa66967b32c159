/**
 * `npm run demo`: the whole story on a fresh machine. Builds the demo warehouse, starts Temporal and
 * the sandboxes, syncs accounts to Salesforce, changes two accounts and syncs again (only those two
 * are sent), posts the at-risk accounts to Slack, and shows where to look.
 */
import { resolveSync } from '../config/load-config';
import { DEMO_CHANGES, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import type { RunSummary } from '../workflows/definitions';
import { startDevEnvironment, type DevEnvironment } from './dev-environment';
import { count, say } from './output';
import { requestRun, waitForRequest } from './sync-control';

async function runSync(env: DevEnvironment, syncId: string): Promise<RunSummary> {
  resolveSync(env.config, syncId);
  const { requestSeq } = await requestRun(env.client, syncId, env.taskQueue, { kind: 'incremental' });
  const status = await waitForRequest(env.client, syncId, requestSeq, () => undefined);
  if (!status.lastRun) throw new Error(`run of ${syncId} ended without a summary`);
  const r = status.lastRun;
  say(
    `  ${syncId} run ${r.runNumber}: ${count(r.added + r.changed + r.removed, 'record')} changed, ${r.succeeded} upserted, ${r.failed} failed` +
      ` (${r.unchanged} unchanged, ${count(r.apiCalls, 'API request')})${r.error ? ` — ${r.error}` : ''}`,
  );
  return r;
}

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  say('ebb demo: starting a Temporal dev server, the Salesforce and Slack sandboxes and a worker ...');
  const env = await startDevEnvironment({ fresh: true });
  try {
    say(`\n1. First sync of the warehouse (${env.warehouse}) to Salesforce:`);
    await runSync(env, 'accounts-to-sf');
    say(`  Salesforce now holds ${env.salesforce.records('Account').length} Accounts`);

    say('\n2. Re-run with nothing changed:');
    const before = env.salesforce.stats().upsertRequests;
    await runSync(env, 'accounts-to-sf');
    say(`  upsert requests made: ${env.salesforce.stats().upsertRequests - before}`);

    say(
      `\n3. Change two accounts in the warehouse (${DEMO_CHANGES.map((c) => `${c.account_id} health -> ${c.health}`).join(', ')}) and sync again:`,
    );
    await updateDemoAccounts(env.warehouse, DEMO_CHANGES);
    await runSync(env, 'accounts-to-sf');
    for (const id of DEMO_CHANGES.map((c) => c.account_id)) {
      const rec = env.salesforce.records('Account').find((r) => r.External_Id__c === id);
      say(
        `  Salesforce Account ${id}: Health_Score__c = ${String(rec?.Health_Score__c)}, Segment__c = ${String(rec?.Segment__c)}`,
      );
    }

    say('\n4. At-risk accounts to Slack (#cs-alerts):');
    await runSync(env, 'at-risk-to-slack');
    // The seed accounts first (Acme, and Initech since step 3), then a few generated ones.
    const seedFirst = (text: string) => Number(/Acme|Initech/.test(text));
    const messages = [...env.slack.messages()].sort((a, b) => seedFirst(b.text) - seedFirst(a.text));
    for (const m of messages.slice(0, 6)) say(`  [${m.channel} ${m.ts}] ${m.text}`);
    if (messages.length > 6) say(`  ... and ${messages.length - 6} more`);

    say('\nLook around (the state of this demo stays in .ebb/demo):');
    say('  npx ebb --config examples/ebb.yaml runs accounts-to-sf');
    say('  npx ebb --config examples/ebb.yaml records at-risk-to-slack');
    say('  npm run dev      keeps Temporal (UI at http://127.0.0.1:8233), the sandboxes and a worker running');
    if (keep) {
      say(`\nTemporal UI: ${env.server.uiUrl}/namespaces/default/workflows  (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
    } else {
      say(
        `  Temporal UI of this demo (while it runs, e.g. \`npm run demo -- --keep\`): ${env.server.uiUrl}/namespaces/default/workflows`,
      );
    }
  } finally {
    await env.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    let cause: unknown = err;
    const lines: string[] = [];
    while (cause instanceof Error) {
      lines.push(cause.stack ?? cause.message);
      cause = cause.cause;
    }
    process.stderr.write(`demo failed: ${lines.join('\ncaused by: ') || String(err)}\n`);
    process.exit(1);
  },
);
