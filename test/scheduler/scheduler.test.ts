import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BatchSchedule, parseSchedules } from '#commons/schedules.ts';
import {
  LocalScheduler,
  type LocalSchedulerOptions,
  type SchedulerState,
} from '#local/scheduler/scheduler.ts';

const HOURLY = parseSchedules(
  {
    datasets: ['orders'],
    schedules: [{ name: 'orders-hourly', dataset: 'orders', expression: 'cron(0 * * * ? *)' }],
  },
  'test',
)[0] as BatchSchedule;

let dir: string;
let stateFile: string;
/** Every fire, as `<schedule> <scheduled time>`. */
let fired: string[];
let log: string[];

const readState = (): SchedulerState => JSON.parse(readFileSync(stateFile, 'utf8'));

/** A scheduler over `schedules` whose fires are recorded, on the given clock. */
function scheduler(
  now: () => Date,
  overrides: Partial<LocalSchedulerOptions> = {},
  schedules: readonly BatchSchedule[] = [HOURLY],
): LocalScheduler {
  return new LocalScheduler({
    schedules,
    stateFile,
    now,
    fire: async (schedule, scheduledTime) => {
      fired.push(`${schedule.name} ${scheduledTime.toISOString()}`);
    },
    log: { write: (text: string) => log.push(text) },
    ...overrides,
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-scheduler-'));
  stateFile = join(dir, 'schedules', 'state.json');
  fired = [];
  log = [];
});

afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

describe('LocalScheduler', () => {
  it('does not backfill on its first start: the schedule starts from now', async () => {
    // Prepare
    const now = new Date('2026-12-04T10:30:00Z');
    const local = scheduler(() => now);

    // Act
    await local.start();
    await local.close();

    // Assess
    expect(fired).toEqual([]);
    expect(readState()).toEqual({ 'orders-hourly': { since: '2026-12-04T10:30:00.000Z' } });
    expect(readdirSync(join(dir, 'schedules'))).toEqual(['state.json']);
  });

  it('fires once, for the latest slot, after a restart that missed three', async () => {
    // Prepare: it last ran at 07:00; 08:00, 09:00 and 10:00 passed while it was down.
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({
        'orders-hourly': {
          since: '2026-12-04T06:30:00.000Z',
          lastRun: '2026-12-04T07:00:00.000Z',
          lastBatchId: 'orders-hourly-2026-12-04T07:00:00Z',
        },
        // A schedule no longer declared keeps its entry.
        retired: { since: '2026-01-01T00:00:00.000Z' },
      }),
    );
    stateFile = join(dir, 'state.json');
    const local = scheduler(() => new Date('2026-12-04T10:30:00Z'));

    // Act
    await local.start();
    await local.close();

    // Assess
    expect(fired).toEqual(['orders-hourly 2026-12-04T10:00:00.000Z']);
    expect(readState()).toEqual({
      'orders-hourly': {
        since: '2026-12-04T06:30:00.000Z',
        lastRun: '2026-12-04T10:00:00.000Z',
        lastBatchId: 'orders-hourly-2026-12-04T10:00:00Z',
      },
      retired: { since: '2026-01-01T00:00:00.000Z' },
    });
    expect(log).toEqual([
      'sluice: schedule orders-hourly: started batch orders-hourly-2026-12-04T10:00:00Z\n',
    ]);
  });

  it('fires nothing on a restart within the same slot', async () => {
    // Prepare
    let now = new Date('2026-12-04T10:30:00Z');
    const first = scheduler(() => now);
    await first.start();
    await first.close();
    now = new Date('2026-12-04T10:59:00Z');

    // Act
    const second = scheduler(() => now);
    await second.start();
    await second.close();

    // Assess
    expect(fired).toEqual([]);
  });

  it('fires each slot it reaches while running, at the slot', async () => {
    // Prepare
    vi.useFakeTimers({
      now: new Date('2026-12-04T10:59:30Z'),
      toFake: ['setTimeout', 'clearTimeout', 'Date'],
    });
    const local = scheduler(() => new Date());
    await local.start();

    // Act
    await vi.advanceTimersByTimeAsync(29_999);
    const early = [...fired];
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(3_600_000);
    await local.close();

    // Assess
    expect(early).toEqual([]);
    expect(fired).toEqual([
      'orders-hourly 2026-12-04T11:00:00.000Z',
      'orders-hourly 2026-12-04T12:00:00.000Z',
    ]);
    expect(readState()['orders-hourly']).toMatchObject({
      lastRun: '2026-12-04T12:00:00.000Z',
      lastBatchId: 'orders-hourly-2026-12-04T12:00:00Z',
    });
  });

  it('reaches a slot beyond setTimeout’s 24.8-day limit by re-arming, and fires it once', async () => {
    // Prepare
    const [yearly] = parseSchedules(
      {
        datasets: ['orders'],
        schedules: [{ name: 'new-year', dataset: 'orders', expression: 'cron(0 0 1 1 ? *)' }],
      },
      'test',
    );
    vi.useFakeTimers({
      now: new Date('2026-02-01T00:00:00Z'),
      toFake: ['setTimeout', 'clearTimeout', 'Date'],
    });
    const local = scheduler(() => new Date(), {}, [yearly as BatchSchedule]);
    await local.start();

    // Act
    await vi.advanceTimersByTimeAsync(Date.parse('2027-01-01T00:00:00Z') - Date.now() - 1);
    const before = [...fired];
    await vi.advanceTimersByTimeAsync(1);
    await local.close();

    // Assess
    expect(before).toEqual([]);
    expect(fired).toEqual(['new-year 2027-01-01T00:00:00.000Z']);
  });

  it('stops its timers on close', async () => {
    // Prepare
    vi.useFakeTimers({
      now: new Date('2026-12-04T10:59:30Z'),
      toFake: ['setTimeout', 'clearTimeout', 'Date'],
    });
    const local = scheduler(() => new Date());
    await local.start();
    const armed = vi.getTimerCount();

    // Act
    await local.close();
    await vi.advanceTimersByTimeAsync(3 * 3_600_000);

    // Assess
    expect(armed).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    expect(fired).toEqual([]);
  });

  it('records a failed fire as lastError and logs it, never throwing; the next start tries again', async () => {
    // Prepare
    vi.useFakeTimers({
      now: new Date('2026-12-04T10:59:30Z'),
      toFake: ['setTimeout', 'clearTimeout', 'Date'],
    });
    const failing = scheduler(() => new Date(), {
      fire: async () => {
        throw Object.assign(new Error('State Machine Does Not Exist'), {
          name: 'StateMachineDoesNotExist',
        });
      },
    });
    await failing.start();

    // Act
    await vi.advanceTimersByTimeAsync(30_000);
    await failing.close();
    const afterFailure = readState()['orders-hourly'];
    const retry = scheduler(() => new Date());
    await retry.start();
    await retry.close();

    // Assess
    expect(afterFailure).toEqual({
      since: '2026-12-04T10:59:30.000Z',
      lastError: {
        scheduledTime: '2026-12-04T11:00:00.000Z',
        at: '2026-12-04T11:00:00.000Z',
        name: 'StateMachineDoesNotExist',
        message: 'State Machine Does Not Exist',
      },
    });
    expect(log[0]).toBe(
      'sluice: schedule orders-hourly: the batch of 2026-12-04T11:00:00Z did not start: StateMachineDoesNotExist: State Machine Does Not Exist\n',
    );
    expect(fired).toEqual(['orders-hourly 2026-12-04T11:00:00.000Z']);
    expect(readState()['orders-hourly']).toEqual({
      since: '2026-12-04T10:59:30.000Z',
      lastRun: '2026-12-04T11:00:00.000Z',
      lastBatchId: 'orders-hourly-2026-12-04T11:00:00Z',
    });
  });

  it('starts over, without backfill, from a state file it cannot read', async () => {
    // Prepare
    writeFileSync(join(dir, 'state.json'), '{ half a file');
    stateFile = join(dir, 'state.json');
    const local = scheduler(() => new Date('2026-12-04T10:30:00Z'));

    // Act
    await local.start();
    await local.close();

    // Assess
    expect(fired).toEqual([]);
    expect(readState()).toEqual({ 'orders-hourly': { since: '2026-12-04T10:30:00.000Z' } });
    expect(log[0]).toContain('is not a scheduler state; every schedule starts from now');
    expect(existsSync(`${stateFile}.${process.pid}.tmp`)).toBe(false);
  });
});
