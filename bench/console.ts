// npm run bench -- console [--versions 10000]: the console over a data dir of 10,000 executions.
//
// The data dir is made from a real run: `sluice run sample-data` (8 files, 8 executions), whose
// ledger items and executions (record and history) are then copied under new keys until there
// are --versions of each. `sluice up` then serves it, and headless Chromium (Debian's) times:
//   - the list's first rendered page, cold (the console reads the whole ledger first) and warm;
//   - a file's page, to its outputs;
// beside the reference, `sluice executions --limit 100 -o json` on the same data dir (the CLI's
// own listing of the same ledger), as a ratio. It also reports the console's added RSS: the
// service's process tree with the console, after both pages, against `--no-console`.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { chromium } from 'playwright-core';
import { attemptSortKey, ledgerKey } from '#commons/outcome.ts';
import { ExecutionStore } from '#local/emulators/step-functions/execution-store.ts';
import { LocalStack } from '#local/stack/stack.ts';
import { sluiceUp } from './sluice-up.ts';

const { values } = parseArgs({
  options: {
    versions: { type: 'string', default: '10000' },
    // Keeps the data dir it makes there, or reuses the one it made before (to iterate quickly).
    'data-dir': { type: 'string' },
  },
});
const versions = Number(values.versions);
const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'cli/sluice.js');
const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const TARGET_MS = 1000;

const work = mkdtempSync(join(tmpdir(), 'sluice-console-bench-'));
const dataDir = values['data-dir'] ?? join(work, 'data');

const hash = (text: string) => createHash('md5').update(text).digest('hex');

/** Resident MB of a process and its descendants, from /proc. */
function treeRssMb(pid: number): number {
  let kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === pid) kb += treeRssMb(Number(entry)) * 1024;
    } catch {
      // gone meanwhile
    }
  }
  return kb / 1024;
}

const up = async (...args: string[]) => {
  const { child, stdout } = await sluiceUp(dataDir, ...args);
  return { child, out: stdout };
};

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Copies the real run's ledger items and executions under new keys, `copies` times over. */
async function copyRun(copies: number): Promise<void> {
  const stack = await LocalStack.start({ dataDir });
  const records = new ExecutionStore(join(dataDir, 'executions')).load([
    'sluice-ProcessFile',
    'sluice-ProcessBatch',
  ]);
  const store = new ExecutionStore(join(dataDir, 'executions'));
  try {
    const { Items = [] } = await stack.dynamodb.send(
      new ScanCommand({ TableName: stack.names.tableName }),
    );
    const items = Items.filter((item) => item.versionTag && item.status !== 'SKIPPED_DUPLICATE');
    const writes: Record<string, unknown>[] = [];
    for (let copy = 1; copy < copies; copy++) {
      for (const item of items) {
        const record = records.find((r) => r.executionArn === item.executionId);
        if (!record) continue;
        const key = (item.key as string).replace(/^(incoming\/[^/]+\/)/, `$1copy-${copy}/`);
        const versionTag = hash(`${key}${item.versionTag}`);
        const name = hash(`${key}#${versionTag}`);
        const executionArn = record.executionArn.replace(/:[^:]+$/, `:${name}`);
        const input = JSON.parse(record.input);
        input.file = { ...input.file, key, versionTag };
        const clone = { ...record, executionArn, name, input: JSON.stringify(input) };
        for (const event of store.history(record)) store.appendHistory(clone, event);
        // Last, as a closed execution's journal ends: a restart reads only that line.
        store.save(clone);
        store.release(clone);
        const bucket = item.bucket as string;
        writes.push({
          ...item,
          pk: ledgerKey({ bucket, key }),
          sk: attemptSortKey(versionTag, (item.attempt as number) ?? 1),
          key,
          versionTag,
          executionId: executionArn,
        });
      }
    }
    for (let i = 0; i < writes.length; i += 25) {
      await stack.dynamodb.send(
        new BatchWriteCommand({
          RequestItems: {
            [stack.names.tableName]: writes
              .slice(i, i + 25)
              .map((Item) => ({ PutRequest: { Item } })),
          },
        }),
      );
    }
  } finally {
    await stack.close();
  }
}

try {
  if (existsSync(join(dataDir, 'executions'))) {
    console.log(`reusing the data dir ${dataDir}`);
  } else {
    console.log(`making a data dir of ${versions} executions from a real run…`);
    execFileSync(process.execPath, [CLI, 'run', 'sample-data', '--data-dir', dataDir, '--json'], {
      stdio: 'ignore',
    });
    await copyRun(Math.ceil(versions / 8));
  }

  const reference = (() => {
    const runs: number[] = [];
    return {
      runs,
      median: () => [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)] ?? NaN,
    };
  })();

  const bare = await up('--no-console');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const bareMb = treeRssMb(bare.child.pid ?? 0);
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    execFileSync(
      process.execPath,
      [CLI, 'executions', '--data-dir', dataDir, '--limit', '100', '-o', 'json'],
      {
        stdio: 'ignore',
      },
    );
    reference.runs.push(performance.now() - started);
  }
  await stop(bare.child);

  // The browser is open before the service starts, as a user's is: its start-up would
  // otherwise compete for the two cores with the service's first read of the ledger.
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  const page = await browser.newPage();
  await page.goto('about:blank');
  const service = await up();
  const consoleUrl = /^console: (\S+)$/m.exec(service.out)?.[1] ?? '';
  const time = async (url: string, selector: string) => {
    const started = performance.now();
    await page.goto(url);
    await page.waitForSelector(selector, { timeout: 60_000 });
    return performance.now() - started;
  };
  const cold = await time(consoleUrl, 'tr[data-key]');
  const warm: number[] = [];
  for (let i = 0; i < 3; i++) warm.push(await time(consoleUrl, 'tr[data-key]'));
  const rendered = await page.locator('tr[data-key]').count();
  const total = await page.locator('h2', { hasText: 'Files (' }).textContent();
  const filePage: number[] = [];
  for (let i = 0; i < 3; i++) {
    filePage.push(
      await time(
        `${consoleUrl}file?key=${encodeURIComponent('incoming/customers/customers.csv')}`,
        'tr[data-rejected-row]',
      ),
    );
  }
  const withMb = treeRssMb(service.child.pid ?? 0);
  await browser.close();
  await stop(service.child);

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const ref = reference.median();
  console.log(
    `data dir: ${total?.replace(/^Files \((\d+)\)$/, '$1')} file versions; ${rendered} rows on the first page`,
  );
  console.log(
    `first list page, right after ready:        ${cold.toFixed(0)} ms  ${cold < TARGET_MS ? 'MET' : 'MISSED'} (< ${TARGET_MS} ms)`,
  );
  console.log(
    `first list page, warm (median of 3):      ${median(warm).toFixed(0)} ms  ${median(warm) < TARGET_MS ? 'MET' : 'MISSED'} (< ${TARGET_MS} ms)`,
  );
  console.log(`a CSV's page, to its rejected rows:       ${median(filePage).toFixed(0)} ms`);
  console.log(`reference: sluice executions --limit 100: ${ref.toFixed(0)} ms (median of 3)`);
  console.log(
    `ratio, cold first page / reference: ${(cold / ref).toFixed(2)}; warm: ${(median(warm) / ref).toFixed(2)}`,
  );
  console.log(
    `sluice up RSS (process tree): ${bareMb.toFixed(0)} MB without the console, ${withMb.toFixed(0)} MB with it after both pages: +${(withMb - bareMb).toFixed(0)} MB`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
