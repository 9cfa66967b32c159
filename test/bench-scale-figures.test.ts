/**
 * The scale benchmark's judgement of a restart (bench/scale-scenario.ts): which workflow tasks are
 * the restarted workers' and count against "no workflow task over 2 s", and which were held by the
 * workers before them. Pure functions over workflow tasks as read from histories; no server.
 * Run with EBB_TEST_NO_TEMPORAL=1.
 */
import { meetsTaskTarget, taskFigures, type PhaseTimes } from '../bench/scale-scenario';
import type { WorkflowTask } from '../bench/workflow-tasks';

/** Epoch ms of the SIGKILL (or SIGTERM); the other times are relative to it. */
const T = 1_800_000_000_000;
const RESTART: PhaseTimes = { stoppedAt: T, restartedAt: T + 200, readyAt: T + 3000 };

function task(fields: Partial<WorkflowTask> & Pick<WorkflowTask, 'scheduledAt'>): WorkflowTask {
  return {
    workflowId: 'scale/sync/s-001',
    workflowType: 'syncController',
    startedAt: null,
    endedAt: null,
    outcome: 'open',
    historyEventsBefore: 40,
    ...fields,
  };
}

/** A task the restarted workers took and completed in `ms`. */
const completedAfterRestart = (ms: number, workflowId = 'scale/sync/s-002') =>
  task({ workflowId, scheduledAt: T + 3500, startedAt: T + 4000, endedAt: T + 4000 + ms, outcome: 'completed' });

test('a task the killed worker held, timed out 10 s after the kill, is reported apart and does not fail the target', () => {
  const heldByKilled = task({
    scheduledAt: T - 1000,
    startedAt: T - 500,
    endedAt: T + 9500,
    outcome: 'timed out',
    timeoutType: 'START_TO_CLOSE',
  });
  // Temporal schedules the timed-out task again; a restarted worker replays it quickly.
  const retried = task({ scheduledAt: T + 9500, startedAt: T + 9600, endedAt: T + 9900, outcome: 'completed' });

  const figures = taskFigures([heldByKilled, retried, completedAfterRestart(300)], RESTART);

  expect(figures.heldByStoppedWorkers).toEqual({ tasks: 1, timedOut: 1 });
  expect(figures.tasks).toBe(2);
  expect(figures.timedOut).toBe(0);
  expect(figures.overTarget).toBe(0);
  expect(figures.slowestMs).toBe(300);
  expect(figures.slowest.map((t) => t.ms)).toEqual([300, 300]);
  expect(meetsTaskTarget(figures)).toBe(true);
});

test('a task the restarted workers held for 2.5 s fails the target and is listed as the slowest', () => {
  const figures = taskFigures([completedAfterRestart(300), completedAfterRestart(2500, 'scale/sync/s-007')], RESTART);

  expect(figures.overTarget).toBe(1);
  expect(figures.slowestMs).toBe(2500);
  expect(figures.slowest[0]).toMatchObject({ workflowId: 'scale/sync/s-007', ms: 2500 });
  expect(figures.heldByStoppedWorkers).toEqual({ tasks: 0, timedOut: 0 });
  expect(meetsTaskTarget(figures)).toBe(false);
});

test('a task the restarted workers started and that timed out fails the target', () => {
  const timedOut = task({
    scheduledAt: T + 3500,
    startedAt: T + 4000,
    endedAt: T + 14_000,
    outcome: 'timed out',
    timeoutType: 'START_TO_CLOSE',
  });

  const figures = taskFigures([timedOut, completedAfterRestart(300)], RESTART);

  expect(figures.timedOut).toBe(1);
  expect(figures.heldByStoppedWorkers).toEqual({ tasks: 0, timedOut: 0 });
  expect(meetsTaskTarget(figures)).toBe(false);
});

test('a task a draining worker completed after SIGTERM counts as the stopped workers’, not as a timeout or a slow task', () => {
  const drained = task({ scheduledAt: T - 2000, startedAt: T - 100, endedAt: T + 2900, outcome: 'completed' });

  const figures = taskFigures([drained, completedAfterRestart(300)], RESTART);

  expect(figures.heldByStoppedWorkers).toEqual({ tasks: 1, timedOut: 0 });
  expect(figures.tasks).toBe(1);
  expect(figures.slowestMs).toBe(300);
  expect(meetsTaskTarget(figures)).toBe(true);
});

test('a task left on the killed worker’s sticky queue counts as a sticky timeout, and its wait for a ready worker is measured', () => {
  const sticky = task({
    scheduledAt: T - 300,
    endedAt: T + 4700,
    outcome: 'timed out',
    timeoutType: 'SCHEDULE_TO_START',
  });
  // Scheduled again once the restarted workers were ready, and taken 1.5 s later.
  const again = task({ scheduledAt: T + 4700, startedAt: T + 6200, endedAt: T + 6400, outcome: 'completed' });

  const figures = taskFigures([sticky, again], RESTART);

  expect(figures.stickyTimeouts).toBe(1);
  expect(figures.slowestWaitMs).toBe(1500);
  expect(figures.heldByStoppedWorkers).toEqual({ tasks: 0, timedOut: 0 });
  expect(meetsTaskTarget(figures)).toBe(true);
});

test('at a first start every task since the spawn is the new workers’ own', () => {
  const spawnedAt = T;
  const first = task({ scheduledAt: T + 100, startedAt: T + 5000, endedAt: T + 7600, outcome: 'completed' });

  const figures = taskFigures([first], { stoppedAt: spawnedAt, restartedAt: spawnedAt, readyAt: T + 4000 });

  expect(figures.tasks).toBe(1);
  expect(figures.overTarget).toBe(1);
  expect(figures.heldByStoppedWorkers).toEqual({ tasks: 0, timedOut: 0 });
});
