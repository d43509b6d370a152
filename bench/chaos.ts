// Chaos: `sluice run` over small files (half CSV, half PNG, about 2 % of the CSVs invalid) with
// 10 % of the calls to every service failing (errors, latency, resets, ambiguous writes, Kinesis
// partial failures), once per seed, against one fault-free run of the same files as the
// reference. Audits each data dir: final status per file against the reference, lost and
// duplicated ledger items, skipped duplicates, aggregate records and distinct recordIds per file,
// DLQ depth, the faults injected per service (faults-report.json) and the wall time.
// Targets: 0 lost, 0 duplicated, the same final statuses, wall ≤ 2× the reference. A missed
// target is printed as MISSED; the exit code stays 0, as this is a measurement.
// Run: npm run bench -- chaos [--files N] [--seed S]... (--seed 1,2,3,4,5 or --seed 1 --seed 2)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { FaultReport } from '#local/faults/fault-layer.ts';
import type { FaultRule, FaultService } from '#local/faults/rules.ts';
import { type Audit, audit, describe, type RunResult, runSluice } from './audit.ts';
import { writeSmallFiles } from './small-files.ts';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '1000' },
    seed: { type: 'string', multiple: true, default: ['1'] },
  },
});
const count = Number(values.files);
const seeds = values.seed.flatMap((value) => value.split(',')).map(Number);
if (!Number.isInteger(count) || count < 2 || seeds.some((seed) => !Number.isInteger(seed))) {
  console.error('usage: chaos [--files N] [--seed S]... with whole numbers, e.g. --seed 1,2,3');
  process.exit(2);
}

const SERVICES = ['s3', 'dynamodb', 'kinesis', 'stepfunctions', 'lambda'] as const;
/** The target: a faulted run takes at most this many times the reference's wall time. */
const MAX_RATIO = 2;

type Effect = Omit<FaultRule, 'service' | 'seed' | 'startMs' | 'afterCalls'>;

/**
 * About 10 % of each service's calls meet a fault (the first rule that hits wins, so the shares
 * add up to a little less), mixing every effect the service supports.
 */
const FAULTS: Readonly<Record<(typeof SERVICES)[number], readonly Effect[]>> = {
  s3: [
    { probability: 0.03, error: { code: 'SlowDown', statusCode: 503 } },
    { probability: 0.02, error: { code: 'InternalError', statusCode: 500 } },
    { probability: 0.02, reset: true },
    { probability: 0.02, commitThenReset: true },
    { probability: 0.01, latency: 50 },
  ],
  dynamodb: [
    { probability: 0.02, error: { code: 'ProvisionedThroughputExceededException' } },
    { probability: 0.02, error: { code: 'ThrottlingException' } },
    { probability: 0.01, error: { code: 'RequestLimitExceeded' } },
    { probability: 0.01, error: { code: 'InternalServerError', statusCode: 500 } },
    { probability: 0.01, reset: true },
    { probability: 0.02, commitThenReset: true },
    { probability: 0.01, latency: 50 },
  ],
  kinesis: [
    {
      operation: 'PutRecords',
      probability: 0.03,
      recordFailures: { code: 'ProvisionedThroughputExceededException', fraction: 0.5 },
    },
    // Firehose's GetRecords calls meet only the rules below: about 9 %, PutRecords about 12 %.
    { probability: 0.05, error: { code: 'ProvisionedThroughputExceededException' } },
    { probability: 0.01, reset: true },
    { probability: 0.02, commitThenReset: true },
    { probability: 0.01, latency: 50 },
  ],
  stepfunctions: [
    { probability: 0.04, error: { code: 'ThrottlingException' } },
    { probability: 0.02, reset: true },
    { probability: 0.02, commitThenReset: true },
    { probability: 0.02, latency: 50 },
  ],
  lambda: [
    { probability: 0.03, error: { code: 'TooManyRequestsException' } },
    { probability: 0.02, error: { code: 'ServiceException' } },
    { probability: 0.02, reset: true },
    { probability: 0.02, commitThenReset: true },
    { probability: 0.01, latency: 50 },
  ],
};

/** The rules of one seed: each rule's own seed derives from it, so a seed's faults repeat. */
function rulesFor(seed: number): object[] {
  return SERVICES.flatMap((service, s) =>
    FAULTS[service].map((effect, r) => ({ service, ...effect, seed: seed * 1000 + s * 100 + r })),
  );
}

interface Measured {
  readonly label: string;
  readonly run: RunResult;
  readonly found: Audit;
  readonly report?: FaultReport;
}

async function measure(label: string, files: string, paths: readonly string[], seed?: number) {
  const dataDir = join(work, label.replace(/\s+/g, '-'));
  let faults: string | undefined;
  if (seed !== undefined) {
    faults = join(work, `faults-${seed}.json`);
    writeFileSync(faults, `${JSON.stringify(rulesFor(seed), null, 2)}\n`);
  }
  const run = await runSluice(files, dataDir, { faults });
  // 0: every file has an outcome; 1: the run broke, and the audit tells what it left.
  if (run.code !== 0 && run.code !== 1) {
    throw new Error(`sluice run (${label}) exited ${run.code}: ${run.stderr.trim()}`);
  }
  const found = await audit(dataDir, paths);
  // Progress: a 5-seed run of 1,000 files takes minutes.
  console.log(`${label}: ${seconds(run.ms)}, ${found.lost} lost, ${found.duplicated} duplicated`);
  const report =
    faults === undefined
      ? undefined
      : (JSON.parse(readFileSync(join(dataDir, 'faults-report.json'), 'utf8')) as FaultReport);
  return { label, run, found, report } satisfies Measured;
}

const perFile = (n: number) => (n / count).toFixed(3);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const statusLine = (found: Audit) =>
  Object.entries(found.statuses)
    .sort(([, a], [, b]) => b - a)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');

/** The files whose final status differs from the reference's, as `path: ref → status error`. */
function differing(reference: Audit, found: Audit): string[] {
  const expected = new Map(reference.files.map((file) => [file.path, file.status]));
  return found.files
    .filter((file) => expected.get(file.path) !== file.status)
    .map((file) => `${expected.get(file.path)} → ${describe(file)}`);
}

const work = mkdtempSync(join(tmpdir(), 'sluice-chaos-'));
try {
  const files = join(work, 'files');
  const paths = await writeSmallFiles(files, count, { invalidCsvShare: 0.02 });

  const reference = await measure('reference', files, paths);
  if (reference.run.code !== 0) {
    throw new Error(`the fault-free run exited ${reference.run.code}: ${reference.run.stderr}`);
  }
  const faulted: Measured[] = [];
  for (const seed of seeds) faulted.push(await measure(`seed ${seed}`, files, paths, seed));

  const all = [reference, ...faulted];
  const row = (value: (m: Measured) => string | number) =>
    Object.fromEntries(all.map((m) => [m.label, value(m)]));
  const injected = (service: FaultService) =>
    row((m) =>
      m.report
        ? `${m.report.injected.byService[service] ?? 0} of ${m.report.calls[service] ?? 0}`
        : '-',
    );

  console.log(
    `\nchaos: ${count} small files (half CSV, half PNG, ~2 % of the CSVs invalid), ` +
      `about 10 % of the calls to every service faulted, seeds ${seeds.join(', ')}`,
  );
  console.table({
    files: row(() => count),
    'final statuses': row((m) => statusLine(m.found)),
    'statuses differing from reference': row((m) => differing(reference.found, m.found).length),
    'lost (no final status)': row((m) => m.found.lost),
    'duplicated ledger items (> 1 final item)': row((m) => m.found.duplicated),
    'SKIPPED_DUPLICATE items': row((m) => m.found.skippedDuplicates),
    'aggregate records per file': row((m) => perFile(m.found.records)),
    'distinct recordIds per file': row((m) => perFile(m.found.recordIds)),
    'DLQ depth': row((m) => m.found.deadLetters),
    ...Object.fromEntries(
      SERVICES.map((service) => [`faults injected: ${service}`, injected(service)]),
    ),
    'wall time': row((m) => seconds(m.run.ms)),
    'ratio to the reference': row((m) => (m.run.ms / reference.run.ms).toFixed(2)),
  });

  for (const m of faulted) {
    const changed = differing(reference.found, m.found);
    const ratio = m.run.ms / reference.run.ms;
    const targets = [
      [`${m.found.lost} lost`, m.found.lost === 0],
      [`${m.found.duplicated} duplicated`, m.found.duplicated === 0],
      [`${changed.length} statuses differing`, changed.length === 0],
      [`wall ${ratio.toFixed(2)}× the reference (≤ ${MAX_RATIO}×)`, ratio <= MAX_RATIO],
    ] as const;
    const met = targets.every(([, ok]) => ok);
    console.log(
      `${m.label}: ${met ? 'MET' : 'MISSED'}: ${targets.map(([text, ok]) => `${text} ${ok ? 'ok' : 'MISSED'}`).join('; ')}`,
    );
    if (m.run.code !== 0) console.log(`  sluice run exited ${m.run.code}: ${m.run.stderr.trim()}`);
    for (const line of changed) console.log(`  status differs: ${line}`);
    for (const file of m.found.files) {
      if (file.finals === 0) console.log(`  lost: ${describe(file)}`);
      if (file.finals > 1)
        console.log(`  duplicated (${file.finals} final items): ${describe(file)}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
