import { Command } from 'commander';
import { EXIT_FAILURE } from '../exit-codes.ts';
import { type OpsDeps, opsAction, TARGET_HELP, withOpsOptions } from '../ops/command.ts';
import { formatBytes, formatTable, type TextSink, writeResult } from '../ops/output.ts';
import {
  PART_SIZE,
  planUploads,
  type UploadProgress,
  type UploadResult,
  uploadFiles,
} from '../ops/uploads.ts';

const BAR_WIDTH = 24;

/** A progress bar on one terminal line, redrawn at most every 100 ms. */
function progressBar(stderr: TextSink): { update(p: UploadProgress): void; clear(): void } {
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && p.filesDone < p.files) return;
      last = now;
      const ratio = p.bytes === 0 ? p.filesDone / p.files : p.bytesDone / p.bytes;
      const filled = Math.round(ratio * BAR_WIDTH);
      stderr.write(
        `\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ` +
          `${p.filesDone}/${p.files} files  ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytes)}`,
      );
      drawn = true;
    },
    clear() {
      if (drawn) stderr.write('\r\x1b[2K');
    },
  };
}

function table(results: readonly UploadResult[]): string {
  return formatTable(
    ['KEY', 'SIZE', 'ETAG'],
    results.map((r) => ({
      cells: [r.key, formatBytes(r.bytes), r.etag ?? (r.error ? 'FAILED' : '-')],
      details: r.error ? [`${r.error.name}: ${r.error.message}`] : [],
    })),
  );
}

/** `sluice upload <file|dir>`: put files where the pipeline picks them up. */
export function uploadCommand(deps: OpsDeps = {}): Command {
  const command = new Command('upload')
    .description(
      "Upload files to the stack's bucket under incoming/, where each starts an execution. A " +
        'file goes to incoming/<dataset>/<name>. A dir with --dataset goes to ' +
        'incoming/<dataset>/<relative path>; without, as `sluice run` does, its first-level ' +
        'folders are the datasets (<dir>/orders/jan.csv becomes incoming/orders/jan.csv), ' +
        '<dir>/schemas/* goes to schemas/ (first), and files at its top go to incoming/ (dataset default). ' +
        'Hidden files and folders are left out.',
    )
    .argument('<path>', 'a file or a directory')
    .option('--dataset <dataset>', 'the dataset (folder under incoming/) for every file')
    .option('--dry-run', 'print where each file would go, upload nothing');
  withOpsOptions(command).addHelpText(
    'after',
    `\nFiles over ${formatBytes(PART_SIZE)} go up in parts (multipart upload). Hidden files are skipped.\n` +
      'A progress bar (files and bytes) is drawn on stderr when it is a terminal.\n\n' +
      'Output (-o json): an array of { key, bytes, etag, path, error? }; etag is without quotes\n' +
      '(<md5>-<parts> for a multipart upload), null for a failed file or a dry run.\n' +
      `${TARGET_HELP}\n\n` +
      'Exit codes: 0 every file uploaded; 1 a file failed (the others still went up);\n' +
      '            2 usage errors: no such path, an empty dir, a bad --dataset, a stopped stack,\n' +
      '              an unreachable endpoint.',
  );
  return command.action(
    opsAction(deps, async (context, [path], options) => {
      const dataset = options.dataset === undefined ? undefined : String(options.dataset);
      const plan = await planUploads(path ?? '', dataset);
      if (options.dryRun) {
        const planned = plan.map((p) => ({ key: p.key, bytes: p.bytes, etag: null, path: p.path }));
        writeResult(context.stdout, context.format, planned, table);
        return 0;
      }
      const target = await context.target();
      const bar = context.stderr.isTTY ? progressBar(context.stderr) : undefined;
      let results: UploadResult[];
      try {
        results = await uploadFiles(target, plan, bar ? (p) => bar.update(p) : undefined);
      } finally {
        bar?.clear();
      }
      writeResult(context.stdout, context.format, results, table);
      const failed = results.filter((r) => r.error);
      for (const r of failed) {
        context.stderr.write(`sluice: ${r.key}: ${r.error?.name}: ${r.error?.message}\n`);
      }
      return failed.length === 0 ? 0 : EXIT_FAILURE;
    }),
  );
}
