import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetExpectation } from '#commons/expectations.ts';
import { LocalStack } from '#local/stack/stack.ts';
import { alertsCommand } from '../../cli/commands/alerts.ts';
import { runFiles } from '../../cli/ops/run-files.ts';
import { targetFromLocalStack } from '../../cli/ops/target.ts';
import { runOps } from '../cli/ops-helpers.ts';

const DAILY = { expression: 'rate(1 day)', timeZone: 'UTC', graceMinutes: 60 };
const EXPECTATIONS: DatasetExpectation[] = [
  { dataset: 'orders', arrival: DAILY, rows: { max: 3, maxChangePercent: 200, trailing: 7 } },
  // Declared, and no file of it ever comes.
  { dataset: 'returns', arrival: DAILY },
  { dataset: 'invoices', rows: { maxChangePercent: 50, trailing: 3 } },
];

let stack: LocalStack;
let dir: string;

/** The notices published so far, as their JSON bodies. */
const notices = () =>
  stack.notices.list().map((message) => JSON.parse(message.message) as Record<string, unknown>);

/** Writes one CSV of `rows` rows per name under `<dir>/<run>/invoices/`, for one upload. */
function invoices(run: string, names: readonly string[], rows: number): string {
  const root = join(dir, run);
  mkdirSync(join(root, 'invoices'), { recursive: true });
  const body = `id,amount\n${Array.from({ length: rows }, (_, i) => `${i},${i * 10}\n`).join('')}`;
  for (const name of names) writeFileSync(join(root, 'invoices', `${name}.csv`), body);
  return root;
}

const check = (time: Date) =>
  stack.runtime.invoke('CheckExpectations', { time: time.toISOString() }) as Promise<{
    notices: number;
  }>;

beforeAll(async () => {
  stack = await LocalStack.start({ retryIntervalMs: 10, expectations: EXPECTATIONS });
  dir = mkdtempSync(join(tmpdir(), 'sluice-expectations-'));
  mkdirSync(join(dir, 'orders'));
  writeFileSync(join(dir, 'orders/a.csv'), 'id,n\n1,1\n2,2\n');
  writeFileSync(join(dir, 'orders/b.csv'), 'id,n\n3,3\n4,4\n');
  writeFileSync(join(dir, 'orders/big.csv'), 'id,n\n5,5\n6,6\n7,7\n8,8\n9,9\n');
  await runFiles(stack, dir);
});

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('CheckExpectations against the ledger', () => {
  it('tells of a feed that never came and of a CSV over its row count, once each', async () => {
    // Act: check now, and again.
    const now = new Date();
    const first = await check(now);
    const second = await check(now);

    // Assess: once each, in the declaration's order.
    expect(first.notices).toBe(2);
    expect(second.notices).toBe(0);
    expect(notices()).toEqual([
      expect.objectContaining({
        kind: 'RowCountDrift',
        dataset: 'orders',
        key: 'incoming/orders/big.csv',
        error: { name: 'RowCountDrift', message: '5 rows, more than the 3 expected' },
      }),
      expect.objectContaining({ kind: 'LateArrival', dataset: 'returns', key: null }),
    ]);
  });

  it('tells of a feed whose files stopped, two days on, and lists it in sluice alerts', async () => {
    // Act
    const later = new Date(Date.now() + 2 * 86_400_000);
    const result = await check(later);
    const late = await runOps(alertsCommand, targetFromLocalStack(stack), [
      '--kind',
      'LateArrival',
      '-o',
      'json',
    ]);

    // Assess: orders is late now, and returns late again, for a new slot; old files' row counts
    // are not looked at again.
    expect(result.notices).toBe(2);
    const alerts = JSON.parse(late.stdout).alerts as {
      dataset: string;
      error: { message: string };
    }[];
    expect(alerts.map((alert) => alert.dataset).sort()).toEqual(['orders', 'returns', 'returns']);
    const orders = alerts.find((alert) => alert.dataset === 'orders');
    expect(orders?.error.message).toMatch(
      /^no file of orders since it was due at .*; the last came at /,
    );
  });

  it('judges every CSV since the last check, however many came after an off one', async () => {
    // Prepare: a check, then 3 files of 4 rows, one of 8, and then more than a Query page of
    // files of 4 rows, each upload after the one before finished.
    await check(new Date());
    await runFiles(stack, invoices('baseline', ['base-1', 'base-2', 'base-3'], 4));
    await runFiles(stack, invoices('spike', ['spike'], 8));
    const after = Array.from({ length: 110 }, (_, i) => `after-${i}`);
    const outcomes = await runFiles(stack, invoices('after', after, 4));

    // Act: the next check, and again.
    const now = new Date();
    await check(now);
    const told = notices().filter((notice) => notice.dataset === 'invoices');
    const again = await check(now);

    // Assess: the spike, among the oldest files, is told once.
    expect(outcomes.filter((outcome) => outcome.status === 'SUCCEEDED')).toHaveLength(110);
    expect(told).toEqual([
      expect.objectContaining({
        kind: 'RowCountDrift',
        key: 'incoming/invoices/spike.csv',
        error: {
          name: 'RowCountDrift',
          message: '8 rows, +100% against the mean of the last 3 (4.0); at most 50% expected',
        },
      }),
    ]);
    expect(again.notices).toBe(0);
  });
});
