import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costCommand } from '../../cli/commands/cost.ts';
import {
  type AslMachine,
  type CostEstimate,
  DEFAULT_VARIANT_GROUPS,
  estimateCost,
  filePaths,
  historyEvents,
  PROCESS_FILE,
  parseMix,
  transitionsPerPath,
  walkMachine,
} from '../../cli/cost/model.ts';
import type { OpsTarget } from '../../cli/ops/target.ts';
import { runOps } from '../cli/ops-helpers.ts';

const ROOT = join(import.meta.dirname, '../..');

/** `sluice cost` needs no stack: a target it would fail to use. */
const NO_STACK = {} as OpsTarget;

/** `sluice <args>` in its own process, as the README runs it. */
function sluice(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'cli/sluice.js'), ...args],
      { cwd: ROOT },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('transitions per file, walked through process-file.asl.json', () => {
  it('has one variant group by default: the three JPEGs share one decode', () => {
    // Assess: functions/commons/image/variants.ts, large/medium/small, all JPEG.
    expect(DEFAULT_VARIANT_GROUPS.map((group) => group.name)).toEqual(['jpeg']);
  });

  it('matches a hand count of every state each path enters', () => {
    // Act
    const counts = transitionsPerPath();

    // Assess, counted by hand from the ASL (every state entered is one transition):
    // a CSV that passes: Begin, Claim, RouteByKind, CheckCsv (the Parallel), ValidateCsv and
    //   ProfileCsv (one state in each branch), CsvAccepted, RecordResult, PublishAggregates,
    //   Finish = 10
    // a CSV rejected: the same up to CsvAccepted (7), then CsvRejected, Quarantine,
    //   RecordFailure, PublishAggregates, Finish = 12
    // an image with the default variants: Begin, Claim, RouteByKind, PlanImage, ResizeVariants
    //   (the Map), ResizeGroup × 1 group, RecordResult, PublishAggregates, Finish = 9
    // a duplicate: Begin, Claim (fails its condition, caught), RecordDuplicate, Duplicate = 4
    // neither CSV nor image: Begin, Claim, RouteByKind, UnsupportedKind, Quarantine,
    //   RecordFailure, PublishAggregates, Finish = 8
    expect(counts).toEqual({ csv: 10, csvRejected: 12, image: 9, duplicate: 4, unsupported: 8 });
  });

  it('enters the Map once per variant group, and the states inside each time', () => {
    // Prepare: a variants file with JPEG, WebP and AVIF makes three groups.
    const paths = filePaths(3);

    // Act
    const walk = walkMachine(PROCESS_FILE, paths.image);

    // Assess: 9 − 1 + 3 ResizeGroup visits = 11; the Map's history gains two events an iteration.
    expect(walk.visits.map((visit) => visit.name)).toEqual([
      'Begin',
      'Claim',
      'RouteByKind',
      'PlanImage',
      'ResizeVariants',
      'ResizeGroup',
      'ResizeGroup',
      'ResizeGroup',
      'RecordResult',
      'PublishAggregates',
      'Finish',
    ]);
    expect(historyEvents(walk) - historyEvents(walkMachine(PROCESS_FILE, filePaths(1).image))).toBe(
      2 * 2 + 5 * 2,
    );
  });

  it("follows a branch's failure to the Parallel's Catch, and ends on an uncaught one", () => {
    // Prepare
    const machine: AslMachine = {
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'A', States: { A: { Type: 'Task', Resource: 'x', End: true } } },
            { StartAt: 'B', States: { B: { Type: 'Pass', End: true } } },
          ],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Broken' }],
          Next: 'Done',
        },
        Broken: { Type: 'Task', Resource: 'x', Next: 'Done' },
        Done: { Type: 'Succeed' },
      },
    };

    // Act
    const caught = walkMachine(machine, { failures: { A: 'Boom' } });
    const uncaught = walkMachine(machine, { failures: { A: 'Boom', Broken: 'Again' } });

    // Assess
    expect(caught.visits.map((visit) => visit.name)).toEqual(['Both', 'A', 'B', 'Broken', 'Done']);
    expect(caught.error).toBeUndefined();
    expect(uncaught.visits.map((visit) => visit.name)).toEqual(['Both', 'A', 'B', 'Broken']);
    expect(uncaught.error).toBe('Again');
  });

  it('refuses a path that takes no decision, or one the Choice does not offer', () => {
    // Act and assess
    expect(() => walkMachine(PROCESS_FILE, {})).toThrow(/RouteByKind/);
    expect(() => walkMachine(PROCESS_FILE, { choices: { RouteByKind: 'Finish' } })).toThrow(
      /PlanImage, CheckCsv, UnsupportedKind/,
    );
  });
});

describe('the cost of 1,000 CSVs that pass (--files 1000 --mix csv=1, 100,000 bytes each)', () => {
  const estimate = estimateCost({ files: 1000, mix: { csv: 1 }, avgBytes: 100_000 });
  const usd = (name: string) => estimate.services.find((service) => service.service === name)?.usd;

  it('comes to the hand-computed figures, service by service', () => {
    // Step Functions: 10 transitions × 1,000 = 10,000 × $0.025/1,000 = $0.25.
    expect(usd('Step Functions')).toBeCloseTo(0.25, 6);
    // Lambda, GB-s: 98,976 bytes above the 1,024-byte base = 0.0943909 MiB;
    //   ValidateCsv 1 GB × (40 + 27 × 0.0943909) ms = 0.0425486 GB-s
    //   ProfileCsv  1 GB × (30 + 12 × 0.0943909) ms = 0.0311327 GB-s
    //   RecordOutcome 0.25 GB × 20 ms = 0.005; PublishAggregates 0.25 GB × 25 ms = 0.00625
    //   StartExecution 0.25 GB × 30 ms per batch of 10 = 0.00075
    //   = 0.0856812 GB-s a file × 1,000 × $0.0000133334 = $0.0011424
    // requests: 4 + 0.1 = 4.1 a file × 1,000 × $0.20/1M = $0.00082; Lambda = $0.0019624.
    expect(usd('Lambda')).toBeCloseTo(0.0019624, 6);
    // S3: PUTs: the upload, valid.csv, invalid.csv, report.json = 4,000, plus Firehose's objects:
    //   43,800 one-minute intervals × (1 − e^(−1,000/43,800)) = 988.67 → 4,988.67 × $0.005/1,000
    //   = $0.0249434; GETs: 2 schema + 2 file reads = 4,000 × $0.0004/1,000 = $0.0016;
    //   storage: (100,000 upload + 100,000 valid.csv + 2,048 report + 400 aggregate) × 1,000
    //   = 202,448,000 B = 0.1885444 GB × $0.023 = $0.0043365; S3 = $0.0308799.
    expect(usd('S3')).toBeCloseTo(0.0308799, 6);
    // DynamoDB: Claim 2 + RecordOutcome 5 = 7 write units × 1,000 × $0.625/1M = $0.004375.
    expect(usd('DynamoDB')).toBeCloseTo(0.004375, 6);
    // SQS: 1,000 sends + 100 deletes + max(100 receives, 657,000 idle long polls: 5 pollers ×
    //   3 a minute × 43,800 minutes) = 658,100 × $0.40/1M = $0.26324.
    expect(usd('SQS')).toBeCloseTo(0.26324, 6);
    // EventBridge: 4,000 objects created + 988.67 Firehose objects = 4,988.67 × $1/1M.
    expect(usd('EventBridge')).toBeCloseTo(0.0049887, 6);
    // Kinesis: 730 shard-hours × $0.015 = $10.95, + 1,000 PUT payload units × $0.014/1M.
    expect(usd('Kinesis')).toBeCloseTo(10.950014, 6);
    // Firehose: 1,000 records billed as 5 KB = 5,120,000 B = 0.0047684 GB × $0.029.
    expect(usd('Firehose')).toBeCloseTo(0.00013828, 7);
    // CloudWatch Logs: history events: Begin 2, Claim 5, RouteByKind 2, CheckCsv 4,
    //   ValidateCsv 5, ProfileCsv 5, CsvAccepted 2, RecordResult 5, PublishAggregates 5,
    //   Finish 2, the execution 2 = 39 × 1,024 B, + 4.1 invocations × 1,024 B = 44,134.4 B a file
    //   × 1,000 = 0.0411034 GB × $0.50 = $0.0205517.
    expect(usd('CloudWatch Logs')).toBeCloseTo(0.0205517, 6);
    // Total: 0.25 + 0.0019624 + 0.0308799 + 0.004375 + 0.26324 + 0.0049887 + 10.950014
    //   + 0.0001383 + 0.0205517 = $11.52615, so $11.52615 per 1,000 files.
    expect(estimate.totalUsd).toBeCloseTo(11.52615, 4);
    expect(estimate.perThousandFilesUsd).toBeCloseTo(11.52615, 4);
  });

  it('puts the driver of each service first', () => {
    // Assess
    const sfn = estimate.services.find((service) => service.service === 'Step Functions');
    expect(sfn).toMatchObject({ quantity: 10_000, unit: 'transitions' });
    const kinesis = estimate.services.find((service) => service.service === 'Kinesis');
    expect(kinesis).toMatchObject({ quantity: 730, unit: 'shard-hours' });
  });
});

describe('--mix', () => {
  it('reads path=share pairs that add up to 1', () => {
    // Act and assess
    expect(parseMix('csv=0.8,csvRejected=0.05,image=0.15')).toEqual({
      csv: 0.8,
      csvRejected: 0.05,
      image: 0.15,
    });
  });

  it('refuses unknown paths, bad shares, repeats and totals other than 1', () => {
    // Act and assess
    expect(() => parseMix('pdf=1')).toThrow(/the paths are csv, csvRejected/);
    expect(() => parseMix('csv=half,image=0.5')).toThrow(
      /the share of csv must be a number from 0 to 1, got 'half'/,
    );
    expect(() => parseMix('csv=0.5,csv=0.5')).toThrow(/twice/);
    expect(() => parseMix('csv=0.5,image=0.4')).toThrow(/add up to 0.9, not 1/);
  });
});

describe('sluice cost', () => {
  it('prints the JSON document of the README command', async () => {
    // Act: `node cli/sluice.js cost --files 1000 --mix csv=1 -o json`, in-process.
    const run = await runOps(costCommand, NO_STACK, [
      '--files',
      '1000',
      '--mix',
      'csv=1',
      '-o',
      'json',
    ]);

    // Assess
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as CostEstimate;
    expect(json).toMatchObject({
      files: 1000,
      mix: { csv: 1 },
      avgBytes: 100_000,
      pricesAsOf: '2026-12-01',
      transitionsPerFile: { csv: 10, csvRejected: 12, image: 9, duplicate: 4, unsupported: 8 },
    });
    expect(json.services.map((service) => service.service)).toEqual([
      'Step Functions',
      'Lambda',
      'S3',
      'DynamoDB',
      'SQS',
      'EventBridge',
      'Kinesis',
      'Firehose',
      'CloudWatch Logs',
    ]);
    expect(json.services[0]).toMatchObject({ quantity: 10_000, unit: 'transitions', usd: 0.25 });
    expect(json.totalUsd).toBeCloseTo(11.52615, 4);
  });

  it('comes to the README figures at the defaults: $0.41 per 1,000 files, 58 % Step Functions', async () => {
    // Act: `node cli/sluice.js cost`, which prints JSON when stdout is not a terminal
    const run = await runOps(costCommand, NO_STACK, []);

    // Assess
    const json = JSON.parse(run.stdout) as CostEstimate;
    expect(json).toMatchObject({ files: 100_000, mix: { csv: 0.5, image: 0.5 } });
    expect(json.perThousandFilesUsd).toBeCloseTo(0.41, 2);
    expect(json.services[0]?.usd).toBeCloseTo(23.75, 6);
    expect(Math.round(((json.services[0]?.usd ?? 0) / json.totalUsd) * 100)).toBe(58);
  });

  it('prints a table with a row per service, the total and the cost per 1,000 files', async () => {
    // Act: `node cli/sluice.js cost --files 1000000 --mix csv=0.9,csvRejected=0.1 --avg-bytes 5000000`,
    // as a terminal shows it
    const run = await runOps(costCommand, NO_STACK, [
      '--files',
      '1000000',
      '--mix',
      'csv=0.9,csvRejected=0.1',
      '--avg-bytes',
      '5000000',
      '-o',
      'table',
    ]);

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^1,000,000 files a month \(csv 90 %, csvRejected 10 %\)/);
    expect(run.stdout).toMatch(/^Step Functions +10\.2 M transitions +\$255\.00 /m);
    expect(run.stdout).toMatch(/^TOTAL +\$\d+\.\d\d$/m);
    expect(run.stdout).toMatch(/^per 1,000 files +\$\d+\.\d{4}$/m);
  });

  it('ends a bad --mix with one line and exit code 2', async () => {
    // Act
    const run = await runOps(costCommand, NO_STACK, ['--mix', 'csv=0.5,image=0.4']);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('sluice: --mix csv=0.5,image=0.4: the shares add up to 0.9, not 1\n');
  });

  it('refuses files and sizes the model cannot hold', async () => {
    // Act
    const none = await runOps(costCommand, NO_STACK, ['--files', '0']);
    const huge = await runOps(costCommand, NO_STACK, ['--avg-bytes', '100000000']);

    // Assess
    expect(none).toMatchObject({
      code: 2,
      stderr: 'sluice: --files 0: give a whole number of files, at least 1\n',
    });
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/quarantined, not resized/);
  });

  it('runs as `node cli/sluice.js cost`, exit 2 on a bad --mix', async () => {
    // Act
    const good = await sluice('cost', '--files', '1000', '--mix', 'csv=1', '-o', 'json');
    const bad = await sluice('cost', '--mix', 'csv=2');

    // Assess
    expect(good.code).toBe(0);
    expect((JSON.parse(good.stdout) as CostEstimate).transitionsPerFile.csv).toBe(10);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toBe(
      "sluice: --mix csv=2: the share of csv must be a number from 0 to 1, got '2'\n",
    );
  });
});
