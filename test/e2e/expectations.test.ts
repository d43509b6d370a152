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
];

let stack: LocalStack;
let dir: string;

/** The notices published so far, as their JSON bodies. */
const notices = () =>
  stack.notices.list().map((message) => JSON.parse(message.message) as Record<string, unknown>);

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
});
