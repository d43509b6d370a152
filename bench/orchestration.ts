// Offline throughput: the small-file set through `sluice run`, beside the same work done by the
// domain engines directly in one process (the floor) and by the engines' own commands.
// Run: npm run bench -- orchestration [--files N]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_IMAGE_CONFIG, resizeImage } from '#commons/image/index.ts';
import { validateFile } from '../cli/commands/validate.ts';
import { writeSmallFiles } from './small-files.ts';

const { values } = parseArgs({ options: { files: { type: 'string', default: '1000' } } });
const count = Number(values.files);

/** Wall seconds and peak RSS (MB, the largest process) of a command, by GNU time. */
function timed(command: string, args: readonly string[]): { seconds: number; peakMb: number } {
  const report = join(work, `time-${Date.now()}.txt`);
  execFileSync('/usr/bin/time', ['-f', '%e %M', '-o', report, command, ...args], {
    stdio: 'ignore',
  });
  const [seconds = 'NaN', kb = 'NaN'] = readFileSync(report, 'utf8').trim().split(/\s+/).slice(-2);
  return { seconds: Number(seconds), peakMb: Number(kb) / 1024 };
}

/** The floor: every file through its engine, two at a time (the cores), outputs to disk. */
async function floor(files: string, paths: readonly string[], out: string): Promise<number> {
  const started = performance.now();
  const queue = [...paths];
  const work = async () => {
    for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
      const target = join(out, path);
      if (path.endsWith('.csv')) {
        await validateFile(join(files, path), undefined, target);
        continue;
      }
      const result = await resizeImage(
        readFileSync(join(files, path)),
        DEFAULT_IMAGE_CONFIG.variants,
        {
          ...DEFAULT_IMAGE_CONFIG,
          declaredExtension: 'png',
        },
      );
      mkdirSync(target, { recursive: true });
      for (const variant of result.variants) {
        writeFileSync(join(target, `${variant.name}.${variant.extension}`), variant.data);
      }
    }
  };
  await Promise.all([work(), work()]);
  return (performance.now() - started) / 1000;
}

const work = mkdtempSync(join(tmpdir(), 'sluice-orchestration-'));
try {
  const files = join(work, 'files');
  const paths = await writeSmallFiles(files, count);
  const floorSeconds = await floor(files, paths, join(work, 'floor'));
  const resize = timed(process.execPath, [
    'cli/sluice.js',
    'resize',
    join(files, 'photos'),
    '--out',
    join(work, 'resized'),
  ]);
  const run = timed(process.execPath, [
    'cli/sluice.js',
    'run',
    files,
    '--data-dir',
    join(work, 'data'),
    '--json',
  ]);
  const start = timed(process.execPath, [
    'cli/sluice.js',
    'run',
    'sample-data',
    '--data-dir',
    join(work, 'sample'),
  ]);

  console.log(`\noffline throughput: ${count} small files (half CSVs of 20 rows, half 64×48 PNGs)`);
  console.table({
    '(1) floor: the engines in one process': { s: floorSeconds.toFixed(2), 'peak MB': '-' },
    [`(2) sluice resize on the ${count / 2} PNGs`]: {
      s: resize.seconds.toFixed(2),
      'peak MB': resize.peakMb.toFixed(0),
    },
    [`(3) sluice run over all ${count}, fresh data dir`]: {
      s: run.seconds.toFixed(2),
      'peak MB': run.peakMb.toFixed(0),
    },
    'npm start (sluice run sample-data), fresh data dir': {
      s: start.seconds.toFixed(2),
      'peak MB': start.peakMb.toFixed(0),
    },
  });
  console.log(`(3)/(1): ${(run.seconds / floorSeconds).toFixed(1)} (target ≤ 4)`);
  console.log(
    'peak MB is the largest process: sluice run is one process, its Lambda workers threads',
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
