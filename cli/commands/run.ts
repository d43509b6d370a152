import { resolve } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_DATA_DIR } from '#local/service/endpoint-file.ts';
import { EXIT_USAGE } from '../exit-codes.ts';
import { formatTable } from '../ops/output.ts';
import type { FileOutcome } from '../ops/run-files.ts';
import { FAULTS_HELP } from './faults-help.ts';

/** Errors that are the user's to fix: one line, exit 2. */
const USAGE_ERRORS = new Set(['DataDirInUse', 'InvalidFaultRules']);

function table(outcomes: readonly FileOutcome[]): string {
  return formatTable(
    ['KEY', 'KIND', 'STATUS', 'OUTPUTS', 'DURATION'],
    outcomes.map((o) => ({
      cells: [
        o.key,
        o.kind,
        o.status,
        String(o.outputs.length),
        o.durationMs === null ? '-' : `${o.durationMs} ms`,
      ],
      details: o.error ? [`${o.error.name}: ${o.error.message}`] : [],
    })),
  );
}

export function runCommand(): Command {
  return new Command('run')
    .description(
      'Run the whole pipeline offline over a directory: start the local stack, upload every ' +
        'file under <dir> to incoming/ (keeping relative paths: <dir>/orders/jan.csv becomes ' +
        'incoming/orders/jan.csv; <dir>/schemas/* seeds schemas/), wait for every execution ' +
        "and print each file's key, kind, status, outputs and duration.",
    )
    .argument('<dir>', 'directory of files to process, one folder per dataset')
    .option(
      '--data-dir <dir>',
      'where the local bucket, ledger, executions and logs persist',
      DEFAULT_DATA_DIR,
    )
    .option('--faults <file>', 'inject faults from this rules file (see below)')
    .option(
      '--json',
      'print a JSON array, one object per file (key, kind, status, outputs, error, executionId, durationMs)',
    )
    .addHelpText(
      'after',
      '\nStatuses: SUCCEEDED, QUARANTINED (error recorded, copy in quarantine/), FAILED (error\n' +
        'recorded, no copy could be made), SKIPPED_DUPLICATE (this version was already processed).\n' +
        'A second run over the same files shows them as SKIPPED_DUPLICATE.\n\n' +
        'Exit codes: 0 every file reached a final recorded status, whatever it is;\n' +
        '            1 the run itself broke (a file has no outcome, or the stack failed);\n' +
        '            2 usage errors, a bad fault rules file, or another sluice holds the data dir.\n\n' +
        'A run that was killed or interrupted is finished by the next run on the same data dir:\n' +
        'queued events are delivered again and cut-short executions go on where they were.\n' +
        FAULTS_HELP,
    )
    .action(async (dir: string, options: { dataDir: string; json?: boolean; faults?: string }) => {
      const dataDir = resolve(options.dataDir);
      const progress = (text: string) => {
        if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
      };
      // The emulators load only when a run needs them, so other commands start fast.
      const [{ startService }, { runFiles }] = await Promise.all([
        import('#local/service/service.ts'),
        import('../ops/run-files.ts'),
      ]);
      // An in-process `sluice up` on a free port: the same lock, endpoint and endpoint.json,
      // so `sluice watch` or `sluice executions --data-dir` can follow a run from elsewhere.
      let service: Awaited<ReturnType<typeof startService>>;
      try {
        service = await startService({ dataDir, port: 0, faults: options.faults });
      } catch (error) {
        if (error instanceof Error && USAGE_ERRORS.has(error.name)) {
          process.stderr.write(`sluice: ${error.message}\n`);
          process.exitCode = EXIT_USAGE;
          return;
        }
        throw error;
      }
      const { stack } = service;
      // Ctrl-C stops cleanly; executions cut short go on at the next start on this data dir.
      const interrupt = () => {
        progress('');
        process.stderr.write(
          'sluice: interrupted; stopping the local stack (run again to finish what was cut short)\n',
        );
        void service.close().finally(() => process.exit(130));
      };
      process.once('SIGINT', interrupt);
      let outcomes: FileOutcome[];
      try {
        outcomes = await runFiles(stack, resolve(dir), {
          onUploaded: (done, total) => progress(`uploaded ${done}/${total}`),
          onProgress: (p) =>
            progress(
              `running: ${p.runningExecutions} execution(s), ${p.invocations} invocation(s)`,
            ),
        });
      } finally {
        process.off('SIGINT', interrupt);
        progress('');
        await service.close();
      }
      if (options.json) {
        process.stdout.write(`${JSON.stringify(outcomes, null, 2)}\n`);
      } else {
        process.stdout.write(`${table(outcomes)}\n`);
        const counts = new Map<string, number>();
        for (const o of outcomes) counts.set(o.status, (counts.get(o.status) ?? 0) + 1);
        process.stdout.write(
          `\n${outcomes.length} file(s): ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}\n`,
        );
        if (outcomes.some((o) => o.error)) {
          process.stdout.write(`Function logs: ${stack.logDir}\n`);
        }
      }
      process.exitCode = outcomes.every((o) => o.status !== 'MISSING') ? 0 : 1;
    });
}
