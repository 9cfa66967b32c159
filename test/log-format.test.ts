/**
 * The two faces of ebb's logs: JSON lines for collectors, and the same events as one readable line
 * each for a person at a terminal (`ebb dev`, `ebb worker` on a TTY).
 */
import { createLogger, temporalLogger } from '../observability/logging';

function capture(format: 'json' | 'pretty', level = 'INFO') {
  const lines: string[] = [];
  const logger = createLogger({ format, level, sink: { write: (line) => void lines.push(line) } });
  return { logger, lines };
}

test('a JSON log line holds the level, time, message and the fields given, one object per line', () => {
  const { logger, lines } = capture('json');
  logger.info({ syncId: 'accounts-to-sf', runNumber: 3, batch: 2, succeeded: 50 }, 'batch delivered');
  expect(lines).toHaveLength(1);
  expect(lines[0]?.endsWith('\n')).toBe(true);
  expect(JSON.parse(lines[0] ?? '')).toMatchObject({
    level: 'info',
    msg: 'batch delivered',
    syncId: 'accounts-to-sf',
    runNumber: 3,
    batch: 2,
    succeeded: 50,
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
  });
});

test('a pretty line reads as time, level, message, then the sync, run and batch before the other fields', () => {
  const { logger, lines } = capture('pretty');
  logger.warn({ succeeded: 48, failed: 2, batch: 2, runNumber: 3, syncId: 'accounts-to-sf' }, 'batch delivered');
  expect(lines[0]).toMatch(
    /^\d\d:\d\d:\d\d\.\d{3} WARN {2}batch delivered syncId=accounts-to-sf runNumber=3 batch=2 succeeded=48 failed=2\n$/,
  );
});

test("Temporal's worker lifecycle messages show only from DEBUG, while activity logs and warnings show at INFO", () => {
  const { logger, lines } = capture('json');
  const temporal = temporalLogger(logger);
  temporal.info('Worker state changed', { sdkComponent: 'worker', state: 'RUNNING' });
  temporal.info('Activity completed', { sdkComponent: 'activity', workflowId: 'sync/a/run/1' });
  temporal.warn('Worker failed to poll', { sdkComponent: 'worker' });
  temporal.warn('Activity failed', { sdkComponent: 'activity', error: new TypeError('socket hang up') });
  expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([
    'Activity completed',
    'Worker failed to poll',
    'Activity failed',
  ]);
  expect(JSON.parse(lines[2] ?? '')).toMatchObject({ error: { type: 'TypeError', message: 'socket hang up' } });
});

test('at level ERROR (EBB_LOG_LEVEL=ERROR) only errors are written', () => {
  const { logger, lines } = capture('json', 'ERROR');
  logger.warn('not shown');
  logger.error('shown');
  expect(lines).toHaveLength(1);
});
