import { describe, expect, it } from 'vitest';
import {
  type ArrivalExpectation,
  dueSlot,
  missedSlot,
  type RowsExpectation,
  rowCountFindings,
  rowDrift,
} from '#commons/expectations.ts';
import { parseDeclaration } from '#commons/schedules.ts';

/** Due at 06:00 London time every day, with 90 minutes' grace. */
const DAILY: ArrivalExpectation = {
  expression: 'cron(0 6 * * ? *)',
  timeZone: 'Europe/London',
  graceMinutes: 90,
};
const at = (iso: string) => new Date(iso);

describe('arrival, on a fake clock', () => {
  it.each([
    // In winter London is UTC: due 06:00Z, late from 07:30Z.
    ['2026-12-03T07:29:00Z', '2026-12-02T06:00:00.000Z'],
    ['2026-12-03T07:30:00Z', '2026-12-03T06:00:00.000Z'],
    // In summer London is UTC+1: due 05:00Z, late from 06:30Z.
    ['2026-07-01T06:29:00Z', '2026-06-30T05:00:00.000Z'],
    ['2026-07-01T06:30:00Z', '2026-07-01T05:00:00.000Z'],
  ])('at %s the latest slot past its grace is %s', (now, slot) => {
    expect(dueSlot(DAILY, at(now))?.toISOString()).toBe(slot);
  });

  it('calls a feed late only when nothing came since the slot', () => {
    // Prepare
    const now = at('2026-12-03T08:00:00Z');

    // Act
    const never = missedSlot(DAILY, now, undefined);
    const yesterday = missedSlot(DAILY, now, at('2026-12-02T06:10:00Z'));
    const onTime = missedSlot(DAILY, now, at('2026-12-03T06:05:00Z'));
    const early = missedSlot(DAILY, now, at('2026-12-03T05:59:00Z'));

    // Assess
    expect(never?.toISOString()).toBe('2026-12-03T06:00:00.000Z');
    expect(yesterday?.toISOString()).toBe('2026-12-03T06:00:00.000Z');
    expect(onTime).toBeUndefined();
    expect(early?.toISOString()).toBe('2026-12-03T06:00:00.000Z');
  });

  it('counts a rate from the epoch, as the schedules do', () => {
    const hourly = { expression: 'rate(1 hour)', timeZone: 'UTC', graceMinutes: 10 };
    expect(dueSlot(hourly, at('2026-12-03T10:09:00Z'))?.toISOString()).toBe(
      '2026-12-03T09:00:00.000Z',
    );
    expect(dueSlot(hourly, at('2026-12-03T10:10:00Z'))?.toISOString()).toBe(
      '2026-12-03T10:00:00.000Z',
    );
  });
});

describe('row counts', () => {
  const rows: RowsExpectation = { min: 10, max: 1000, maxChangePercent: 50, trailing: 3 };

  it.each([
    [9, [], '9 rows, fewer than the 10 expected'],
    [1001, [], '1001 rows, more than the 1000 expected'],
    [100, [], undefined],
    [150, [100, 100, 100], undefined],
    [
      151,
      [100, 100, 100],
      '151 rows, +51% against the mean of the last 3 (100.0); at most 50% expected',
    ],
    [
      49,
      [100, 100, 100, 1],
      '49 rows, -51% against the mean of the last 3 (100.0); at most 50% expected',
    ],
    [100, [60, 100, 140], undefined],
  ])('%d rows after %j: %s', (count, before, reason) => {
    expect(rowDrift(rows, count, before)).toBe(reason);
  });

  it('takes a count from zero as a change beyond any percentage', () => {
    expect(rowDrift({ maxChangePercent: 500, trailing: 2 }, 3, [0, 0])).toBe(
      '3 rows, from 0 against the mean of the last 2 (0.0); at most 500% expected',
    );
  });
});

describe('row counts of a window of files', () => {
  const rows: RowsExpectation = { max: 1000, maxChangePercent: 50, trailing: 3 };
  const since = '2026-12-03T10:00:00.000Z';
  /** A file that reached its status `minutes` after `since` (before it when negative). */
  const file = (name: string, minutes: number, count: number) => ({
    name,
    at: new Date(Date.parse(since) + minutes * 60_000).toISOString(),
    rows: count,
  });

  it('judges the oldest file of the window against the trailing files before it, of both statuses', () => {
    // Prepare: two statuses' files, each with its 3 newest before the window, as the handler
    // reads them; the 3 newest of both together are the oldest file's trailing files.
    const before = [
      file('succeeded-1', -1, 100),
      file('succeeded-2', -3, 100),
      file('succeeded-3', -4, 1),
      file('quarantined-1', -2, 100),
      file('quarantined-2', -5, 1),
      file('quarantined-3', -6, 1),
    ];

    // Act: a file at `since` is in the window.
    const within = rowCountFindings(rows, [file('oldest', 0, 150), ...before], since);
    const over = rowCountFindings(rows, [file('oldest', 0, 151), ...before], since);

    // Assess: against 100, 100 and 100; the files before the window are not judged.
    expect(within).toEqual([]);
    expect(over.map(({ file, reason }) => [file.name, reason])).toEqual([
      ['oldest', '151 rows, +51% against the mean of the last 3 (100.0); at most 50% expected'],
    ]);
  });

  it('tells every off file of the window, oldest first, and none from before it', () => {
    // Prepare: 30 files a minute apart, given in no order, with a spike early on; before the
    // window, one over max (older than any window file's trailing files).
    const files = [
      file('before-over-max', -4, 1001),
      ...[-3, -2, -1].map((minutes) => file(`before${minutes}`, minutes, 100)),
      ...Array.from({ length: 30 }, (_, i) => file(`f${i}`, i, i === 3 ? 200 : 100)),
      file('last', 40, 10),
    ].reverse();

    // Act
    const findings = rowCountFindings(rows, files, since);

    // Assess: the spike and the drop at the end; the files after the spike are within 50% of
    // means that include it.
    expect(findings.map(({ file, reason }) => [file.name, reason])).toEqual([
      ['f3', '200 rows, +100% against the mean of the last 3 (100.0); at most 50% expected'],
      ['last', '10 rows, -90% against the mean of the last 3 (100.0); at most 50% expected'],
    ]);
  });
});

describe('declaring expectations in schedules.json', () => {
  it('takes a dataset as an object with its arrival and rows, with defaults', () => {
    // Act
    const declared = parseDeclaration(
      {
        datasets: [
          'photos',
          { name: 'orders', arrival: { expression: 'cron(0 6 * * ? *)' }, rows: { max: 10 } },
        ],
        schedules: [{ name: 'nightly', dataset: 'orders', expression: 'cron(0 2 * * ? *)' }],
      },
      'schedules.json',
    );

    // Assess
    expect(declared.expectations).toEqual([
      {
        dataset: 'orders',
        arrival: { expression: 'cron(0 6 * * ? *)', timeZone: 'UTC', graceMinutes: 60 },
        rows: { max: 10, trailing: 7 },
      },
    ]);
    expect(declared.schedules.map((schedule) => schedule.dataset)).toEqual(['orders']);
  });

  it.each([
    [
      { name: 'orders', arrival: { expression: 'cron(0 6 * * 8 *)' } },
      "schedules.json: dataset 'orders': arrival.expression: ",
    ],
    [
      { name: 'orders', arrival: { expression: 'rate(1 day)', timeZone: 'Mars/Olympus' } },
      "schedules.json: dataset 'orders': arrival.timeZone: ",
    ],
    [
      { name: 'orders', rows: {} },
      'schedules.json: datasets.0.rows: give min, max or maxChangePercent',
    ],
    [
      { name: 'orders', rows: { min: 5, max: 1 } },
      'schedules.json: datasets.0.rows: min is above max',
    ],
  ])('refuses %j, naming the dataset and the field', (dataset, message) => {
    expect(() => parseDeclaration({ datasets: [dataset] }, 'schedules.json')).toThrow(message);
  });
});
