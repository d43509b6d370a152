import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BATCH_CONCURRENCY } from '#commons/batch.ts';
import {
  type BatchSchedule,
  InvalidSchedules,
  nextRun,
  parseSchedules,
  previousRun,
  readSchedules,
  SCHEDULES_FILE,
} from '#commons/schedules.ts';

const ROOT = join(import.meta.dirname, '../..');
const DATASETS = ['customers', 'orders', 'photos'];

/** A declaration of the given schedules over the sample datasets. */
const declaration = (...schedules: object[]) => ({ datasets: DATASETS, schedules });

/** One valid schedule of `expression` in `timeZone`. */
function schedule(expression: string, timeZone = 'UTC'): BatchSchedule {
  const [parsed] = parseSchedules(
    declaration({ name: 'test', dataset: 'orders', expression, timeZone }),
    SCHEDULES_FILE,
  );
  if (!parsed) throw new Error('no schedule parsed');
  return parsed;
}

/** The next `count` runs after `from`, as ISO strings. */
function runsAfter(s: BatchSchedule, from: string, count: number): string[] {
  const runs: string[] = [];
  let at = new Date(from);
  for (let i = 0; i < count; i++) {
    at = nextRun(s, at);
    runs.push(at.toISOString());
  }
  return runs;
}

describe('parseSchedules', () => {
  it('fills in the defaults: UTC, the dataset prefix, mode new, no window, default concurrency', () => {
    // Act
    const schedules = parseSchedules(
      declaration(
        { name: 'orders-hourly', dataset: 'orders', expression: 'rate(1 hour)' },
        {
          name: 'photos_weekly',
          dataset: 'photos',
          expression: 'cron(30 4 ? * SUN *)',
          timeZone: 'America/New_York',
          prefix: 'incoming/photos/2026/',
          mode: 'reprocess',
          flexibleWindowMinutes: 15,
          maxConcurrency: 3,
        },
      ),
      SCHEDULES_FILE,
    );

    // Assess
    expect(schedules).toEqual([
      {
        name: 'orders-hourly',
        dataset: 'orders',
        expression: 'rate(1 hour)',
        timeZone: 'UTC',
        prefix: 'incoming/orders/',
        mode: 'new',
        flexibleWindowMinutes: 0,
        maxConcurrency: DEFAULT_BATCH_CONCURRENCY,
      },
      {
        name: 'photos_weekly',
        dataset: 'photos',
        expression: 'cron(30 4 ? * SUN *)',
        timeZone: 'America/New_York',
        prefix: 'incoming/photos/2026/',
        mode: 'reprocess',
        flexibleWindowMinutes: 15,
        maxConcurrency: 3,
      },
    ]);
  });

  it('accepts the project’s own schedules.json', () => {
    // Act
    const schedules = readSchedules(join(ROOT, SCHEDULES_FILE));

    // Assess
    expect(schedules).toEqual([
      expect.objectContaining({
        name: 'orders-nightly',
        dataset: 'orders',
        expression: 'cron(0 2 * * ? *)',
        timeZone: 'Europe/London',
        mode: 'new',
        flexibleWindowMinutes: 30,
      }),
    ]);
  });

  it.each([
    // the expression's grammar
    ['cron(0 2 * * * *)', 'expression: use ? in exactly one of day-of-month and day-of-week'],
    ['cron(0 2 ? * ? *)', 'expression: use ? in exactly one'],
    ['cron(0 2 * * ?)', 'expression: a cron expression has 6 fields'],
    ['cron(0 25 * * ? *)', "expression: hours '25': 25 is out of range 0-23"],
    ['cron(0 2 ? * 0 *)', "expression: day-of-week '0': 0 is out of range 1-7 (1 is SUN)"],
    ['cron(0 2 ? * 8 *)', "expression: day-of-week '8': 8 is out of range 1-7"],
    [
      'cron(0 2 ? * MON#6 *)',
      "expression: day-of-week 'MON#6': the week of the month after # is 1 to 5",
    ],
    ['cron(0 2 ? JANUARY * *)', "expression: month 'JANUARY': 'JANUARY' is not a number"],
    ['cron(0 ? * * ? *)', "expression: hours '?': ? is for day-of-month or day-of-week only"],
    ['cron(0 2 9-3 * ? *)', "expression: day-of-month '9-3': the range '9-3' runs backwards"],
    ['cron(0 2 * * ? 2027)', "expression: year: '2027': only * is supported"],
    ['cron(0 2 30 2 ? *)', 'expression: it matches no date'],
    ['rate(1 minutes)', 'expression: write rate(1 minute)'],
    ['rate(5 hour)', 'expression: write rate(5 hours)'],
    ['rate(0 minutes)', 'expression: a rate is at least 1'],
    ['rate(30 seconds)', "expression: 'rate(30 seconds)' is neither cron("],
    ['at(2026-12-24T18:00:00)', "expression: 'at(2026-12-24T18:00:00)' is neither cron("],
  ])('refuses %s, naming the schedule and the field', (expression, message) => {
    // Prepare
    const value = declaration({ name: 'orders-nightly', dataset: 'orders', expression });

    // Act & Assess
    expect(() => parseSchedules(value, SCHEDULES_FILE)).toThrow(InvalidSchedules);
    expect(() => parseSchedules(value, SCHEDULES_FILE)).toThrow(
      `${SCHEDULES_FILE}: schedule 'orders-nightly': ${message}`,
    );
  });

  it.each([
    [
      { name: 'n', dataset: 'invoices', expression: 'rate(1 hour)' },
      "schedule 'n': dataset: 'invoices' is not one of the declared datasets (customers, orders, photos)",
    ],
    [
      { name: 'n', dataset: 'orders', expression: 'rate(1 hour)', timeZone: 'Europe/Londinium' },
      "schedule 'n': timeZone: 'Europe/Londinium' is not a time zone",
    ],
    [
      { name: 'nightly run', dataset: 'orders', expression: 'rate(1 hour)' },
      'schedule 1: name: a name is 1 to 64 letters, digits, - or _',
    ],
    [
      { name: 'x'.repeat(65), dataset: 'orders', expression: 'rate(1 hour)' },
      'schedule 1: name: a name is 1 to 64',
    ],
    [{ dataset: 'orders', expression: 'rate(1 hour)' }, 'schedule 1: name: Invalid input'],
    [
      { name: 'n', dataset: 'orders', expression: 'rate(1 hour)', prefix: 'incoming/photos/' },
      "schedule 'n': prefix: 'incoming/photos/' is outside the dataset: it must start with incoming/orders/",
    ],
    [
      { name: 'n', dataset: 'orders', expression: 'rate(1 hour)', mode: 'all' },
      "schedule 'n': mode: Invalid option",
    ],
    [
      { name: 'n', dataset: 'orders', expression: 'rate(1 hour)', flexibleWindowMinutes: 1441 },
      "schedule 'n': flexibleWindowMinutes: Too big",
    ],
    [
      { name: 'n', dataset: 'orders', expression: 'rate(1 hour)', maxConcurrency: 0 },
      "schedule 'n': maxConcurrency: Too small",
    ],
    [
      { name: 'n', dataset: 'orders', expression: 'rate(1 hour)', timezone: 'Europe/London' },
      'schedule \'n\': Unrecognized key: "timezone"',
    ],
  ])('refuses a bad schedule, naming it and the field: %j', (entry, message) => {
    // Prepare
    const value = declaration(entry);

    // Act & Assess
    expect(() => parseSchedules(value, SCHEDULES_FILE)).toThrow(`${SCHEDULES_FILE}: ${message}`);
  });

  it('refuses a duplicate name, naming the first schedule that has it', () => {
    // Prepare
    const value = declaration(
      { name: 'orders-nightly', dataset: 'orders', expression: 'rate(1 day)' },
      { name: 'orders-nightly', dataset: 'orders', expression: 'rate(2 days)' },
    );

    // Act & Assess
    expect(() => parseSchedules(value, SCHEDULES_FILE)).toThrow(
      "schedules.json: schedule 'orders-nightly': name: schedule 1 has the same name",
    );
  });

  it.each([
    [[], 'schedules.json: expected a JSON object'],
    [{ schedules: [] }, 'schedules.json: datasets: Invalid input: expected array'],
    [{ datasets: ['orders', 'orders'] }, "schedules.json: datasets: 'orders' is listed twice"],
    [{ datasets: ['a/b'] }, 'schedules.json: datasets.0: a dataset is a folder name'],
    [{ datasets: [], schedules: {} }, 'schedules.json: schedules: Invalid input: expected array'],
  ])('refuses a bad declaration: %j', (value, message) => {
    expect(() => parseSchedules(value, SCHEDULES_FILE)).toThrow(message);
  });

  it('reads no schedules from a file that does not exist, and names a file that is not JSON', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'sluice-schedules-'));
    const broken = join(dir, SCHEDULES_FILE);
    writeFileSync(broken, '{ "datasets": [');

    try {
      // Act & Assess
      expect(readSchedules(join(dir, 'absent.json'))).toEqual([]);
      expect(() => readSchedules(broken)).toThrow(`${broken}: not JSON`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nextRun and previousRun', () => {
  it('reads a cron expression in its time zone, with AWS day numbers (1 is SUN)', () => {
    // Prepare: 2026-12-01 is a Tuesday.
    const weekdays = schedule('cron(0 9 ? * 2-6 *)', 'America/New_York');

    // Act
    const runs = runsAfter(weekdays, '2026-12-03T00:00:00Z', 3);

    // Assess: Thursday, Friday, then Monday, at 09:00 EST (UTC-5).
    expect(runs).toEqual([
      '2026-12-03T14:00:00.000Z',
      '2026-12-04T14:00:00.000Z',
      '2026-12-07T14:00:00.000Z',
    ]);
  });

  it('keeps 02:00 London across the spring change: GMT, then BST', () => {
    // Prepare: on 2026-03-29, London goes from 01:00 GMT to 02:00 BST.
    const nightly = schedule('cron(0 2 * * ? *)', 'Europe/London');

    // Act
    const runs = runsAfter(nightly, '2026-03-27T12:00:00Z', 3);

    // Assess
    expect(runs).toEqual([
      '2026-03-28T02:00:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T01:00:00.000Z',
    ]);
    expect(previousRun(nightly, new Date('2026-03-29T12:00:00Z'))?.toISOString()).toBe(
      '2026-03-29T01:00:00.000Z',
    );
  });

  it('skips a time the spring change removes, and runs a repeated time once, as Scheduler does', () => {
    // Prepare: 01:30 does not exist in London on 2026-03-29, and happens twice on 2026-10-25.
    const early = schedule('cron(30 1 * * ? *)', 'Europe/London');
    const hourly = schedule('cron(0 * * * ? *)', 'Europe/London');

    // Act
    const spring = runsAfter(early, '2026-03-28T00:00:00Z', 2);
    const autumn = runsAfter(early, '2026-10-24T12:00:00Z', 2);
    const hours = runsAfter(hourly, '2026-10-24T23:30:00Z', 3);

    // Assess
    expect(spring).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    expect(previousRun(early, new Date('2026-03-29T23:00:00Z'))?.toISOString()).toBe(
      '2026-03-28T01:30:00.000Z',
    );
    expect(autumn).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    // 01:00 BST (00:00Z), not 01:00 GMT again (01:00Z), then 02:00 GMT.
    expect(hours).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T03:00:00.000Z',
    ]);
  });

  it('is strictly after for nextRun and at-or-before for previousRun', () => {
    // Prepare
    const nightly = schedule('cron(0 2 * * ? *)');
    const slot = new Date('2026-12-04T02:00:00Z');

    // Act & Assess
    expect(nextRun(nightly, slot).toISOString()).toBe('2026-12-05T02:00:00.000Z');
    expect(previousRun(nightly, slot)?.toISOString()).toBe(slot.toISOString());
    expect(previousRun(nightly, new Date(slot.getTime() - 1))?.toISOString()).toBe(
      '2026-12-03T02:00:00.000Z',
    );
  });

  it.each([
    ['cron(0/15 * * * ? *)', '2026-12-04T10:07:00Z', ['10:15', '10:30', '10:45']],
    ['cron(0 9 L * ? *)', '2027-02-01T00:00:00Z', ['2027-02-28', '2027-03-31']],
    ['cron(0 9 ? * 6L *)', '2026-12-01T00:00:00Z', ['2026-12-25', '2027-01-29']],
    ['cron(0 9 ? * 3#2 *)', '2026-12-01T00:00:00Z', ['2026-12-08', '2027-01-12']],
    ['cron(0 9 15W * ? *)', '2026-08-01T00:00:00Z', ['2026-08-14', '2026-09-15']],
    ['cron(0 9 ? * L *)', '2026-12-01T00:00:00Z', ['2026-12-05', '2026-12-12']],
  ])('supports %s', (expression, from, expected) => {
    // Act
    const runs = runsAfter(schedule(expression), from, expected.length);

    // Assess
    runs.forEach((run, i) => {
      expect(run).toContain(expected[i]);
    });
  });

  it('anchors rate() at the Unix epoch, in UTC whatever the time zone', () => {
    // Prepare
    const quarterly = schedule('rate(15 minutes)', 'Asia/Kolkata');
    const daily = schedule('rate(1 day)', 'Europe/London');

    // Act & Assess
    expect(runsAfter(quarterly, '2026-12-04T10:07:30Z', 2)).toEqual([
      '2026-12-04T10:15:00.000Z',
      '2026-12-04T10:30:00.000Z',
    ]);
    expect(nextRun(quarterly, new Date('2026-12-04T10:15:00Z')).toISOString()).toBe(
      '2026-12-04T10:30:00.000Z',
    );
    expect(previousRun(quarterly, new Date('2026-12-04T10:15:00Z'))?.toISOString()).toBe(
      '2026-12-04T10:15:00.000Z',
    );
    expect(nextRun(daily, new Date('2026-07-01T12:00:00Z')).toISOString()).toBe(
      '2026-07-02T00:00:00.000Z',
    );
  });
});
