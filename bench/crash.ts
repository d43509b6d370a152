// Crash recovery: `sluice run` over small files, SIGKILLed at random moments and restarted until a
// run completes, against one uninterrupted run of the same files as the reference.
// Run: npm run bench -- crash [--files N] [--kills K] [--seed S]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom as random } from '#local/faults/seeded-random.ts';
import { audit, runSluice } from './audit.ts';
import { writeSmallFiles } from './small-files.ts';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '1000' },
    kills: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
  },
});
const count = Number(values.files);
const kills = Number(values.kills);

const work = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
try {
  const files = join(work, 'files');
  const paths = await writeSmallFiles(files, count);

  const reference = await runSluice(files, join(work, 'reference'));
  if (reference.code !== 0) throw new Error(`the uninterrupted run exited ${reference.code}`);

  const next = random(Number(values.seed));
  const dataDir = join(work, 'crashed');
  const attempts: string[] = [];
  let total = 0;
  let killed = 0;
  for (;;) {
    // Kill somewhere in the first quarter of what an uninterrupted run takes, start-up included,
    // so that most restarts are killed again before they finish.
    const at =
      killed < kills ? Math.round(1000 + next() * (reference.ms * 0.25 - 1000)) : undefined;
    const result = await runSluice(files, dataDir, { killAfterMs: at });
    total += result.ms;
    attempts.push(result.killed ? `killed at ${at} ms` : `completed (exit ${result.code})`);
    if (!result.killed) break;
    killed++;
  }
  const found = await audit(dataDir, paths);

  console.log(`\ncrash recovery: ${count} small files (half CSV, half PNG), ${killed} SIGKILLs`);
  console.log(`runs: ${attempts.join(' → ')}`);
  console.table({
    files: { value: count },
    'SUCCEEDED (a final item says so)': { value: found.succeeded },
    'lost (no final status)': { value: found.lost, target: 0 },
    'duplicated (more than one final item)': { value: found.duplicated, target: 0 },
    'files missing from the aggregates': { value: found.missing, target: 0 },
    'aggregate records (distinct files)': { value: `${found.records} (${found.recordFiles})` },
    'aggregate records per file': { value: (found.records / count).toFixed(3) },
  });
  // Every generated file is valid: any other final status is the crash's doing.
  for (const other of found.others) console.log(`not SUCCEEDED: ${other}`);
  console.log(
    `wall: ${(total / 1000).toFixed(1)} s with the kills, ${(reference.ms / 1000).toFixed(1)} s uninterrupted (reference): ratio ${(total / reference.ms).toFixed(2)}`,
  );
  process.exitCode =
    found.lost + found.duplicated + found.missing + found.others.length === 0 ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
