import { Command } from 'commander';
import {
  ASSUMPTIONS,
  type CostEstimate,
  type CostInput,
  checkInput,
  DEFAULT_INPUT,
  DEFAULT_VARIANT_GROUPS,
  estimateCost,
  FILE_PATHS,
  type FilePathName,
  filePaths,
  PRICES,
  parseMix,
} from '../cost/model.ts';
import { EXIT_USAGE } from '../exit-codes.ts';
import type { OpsDeps } from '../ops/command.ts';
import { firstLine, InvalidOption, OpsUsageError } from '../ops/errors.ts';
import { defaultFormat, formatTable, outputOption, writeResult } from '../ops/output.ts';

/** What `sluice cost` writes to; tests pass their own. It needs no stack. */
export type CostDeps = Pick<OpsDeps, 'stdout' | 'stderr' | 'exit'>;

function wholeNumber(option: string, value: string, what: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(number) || number < 1) {
    throw new InvalidOption(`${option} ${value}: give a whole number of ${what}, at least 1`);
  }
  return number;
}

/** The options as a model input, or an InvalidOption naming the one that is wrong. */
export function costInput(options: Record<string, unknown>): CostInput {
  const files =
    options.files === undefined
      ? DEFAULT_INPUT.files
      : wholeNumber('--files', String(options.files), 'files');
  const avgBytes =
    options.avgBytes === undefined
      ? DEFAULT_INPUT.avgBytes
      : wholeNumber('--avg-bytes', String(options.avgBytes), 'bytes');
  let mix = DEFAULT_INPUT.mix;
  if (options.mix !== undefined) {
    try {
      mix = parseMix(String(options.mix));
    } catch (error) {
      throw new InvalidOption(`--mix ${String(options.mix)}: ${(error as Error).message}`);
    }
  }
  const input = { files, mix, avgBytes };
  try {
    checkInput(input);
  } catch (error) {
    throw new InvalidOption(`--avg-bytes ${avgBytes}: ${(error as Error).message}`);
  }
  return input;
}

/** `2.6 M`, `17.7 k`, `730`, `0.46`: three figures are enough to read a bill by. */
export function formatQuantity(value: number): string {
  const scales: [number, string][] = [
    [1e9, ' B'],
    [1e6, ' M'],
    [1e3, ' k'],
  ];
  for (const [scale, suffix] of scales) {
    if (value >= scale) {
      const scaled = value / scale;
      return `${scaled >= 100 ? scaled.toFixed(0) : scaled.toFixed(1)}${suffix}`;
    }
  }
  if (value === 0) return '0';
  return value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toPrecision(2);
}

const usd = (value: number, digits = 2) => `$${value.toFixed(digits)}`;

function mixText(mix: CostEstimate['mix']): string {
  return Object.entries(mix)
    .filter(([, share]) => (share ?? 0) > 0)
    .map(([name, share]) => `${name} ${Number(((share ?? 0) * 100).toFixed(1))} %`)
    .join(', ');
}

function table(estimate: CostEstimate): string {
  const total = estimate.totalUsd;
  const rows = estimate.services.map((service) => [
    service.service,
    service.parts.map((part) => `${formatQuantity(part.quantity)} ${part.unit}`).join(' + '),
    usd(service.usd).padStart(9),
    `${total === 0 ? 0 : Math.round((service.usd / total) * 100)} %`.padStart(5),
  ]);
  const body = formatTable(
    ['SERVICE', 'DRIVER', 'USD/MONTH', 'SHARE'],
    [
      ...rows,
      ['TOTAL', '', usd(total).padStart(9), ''],
      ['per 1,000 files', '', usd(estimate.perThousandFilesUsd, 4).padStart(9), ''],
    ],
  );
  const transitions = Object.entries(estimate.transitionsPerFile)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  return [
    `${estimate.files.toLocaleString('en-US')} files a month (${mixText(estimate.mix)}), ` +
      `${estimate.avgBytes.toLocaleString('en-US')} bytes on average; ` +
      `${PRICES.region} list prices as of ${estimate.pricesAsOf}`,
    '',
    body,
    '',
    `Transitions per file: ${transitions}.`,
  ].join('\n');
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** The JSON document: USD to the micro-dollar, quantities to three decimals. */
function json(estimate: CostEstimate): unknown {
  return {
    ...estimate,
    services: estimate.services.map((service) => ({
      service: service.service,
      quantity: round(service.quantity, 3),
      unit: service.unit,
      usd: round(service.usd, 6),
      parts: service.parts.map((part) => ({
        quantity: round(part.quantity, 3),
        unit: part.unit,
        usd: round(part.usd, 6),
      })),
    })),
    totalUsd: round(estimate.totalUsd, 6),
    perThousandFilesUsd: round(estimate.perThousandFilesUsd, 6),
  };
}

/** The help's closing part, from the model itself, so its figures follow the ASL and prices. */
function helpText(): string {
  const estimate = estimateCost(DEFAULT_INPUT);
  const byName = Object.fromEntries(estimate.services.map((s) => [s.service, s]));
  const sfn = byName['Step Functions']?.usd ?? 0;
  const kinesis = byName.Kinesis?.usd ?? 0;
  const share = Math.round((sfn / estimate.totalUsd) * 100);
  const sfnPerFile = sfn / estimate.files;
  const others = [...estimate.services]
    .sort((a, b) => b.usd - a.usd)
    .slice(2, 5)
    .map((s) => `${s.service} ${Math.round((s.usd / estimate.totalUsd) * 100)} %`)
    .join(', ');
  const paths = filePaths();
  const pathLines = FILE_PATHS.map(
    (name: FilePathName) =>
      `  ${name.padEnd(12)} ${paths[name].description}: ${estimate.transitionsPerFile[name]} transitions`,
  );
  const groups = DEFAULT_VARIANT_GROUPS.length;
  return [
    '',
    `The model (monthly, ${PRICES.region} list prices as of ${PRICES.asOf}, no free tier):`,
    '  Step Functions  every state a Standard execution enters, Pass, Choice, Map and Parallel',
    '                  included, walked through statemachine/process-file.asl.json along each',
    `                  path; an image's Map runs once per variant group (${groups} by default); no retries.`,
    "  Lambda          each Task's function: its memory in functions/registry.ts × its duration",
    '                  measured offline by the benches (a 2-core VM: AWS will differ), CSV and',
    '                  image durations growing linearly with --avg-bytes; the start function',
    '                  once per SQS batch of 10.',
    '  S3              the upload; per CSV 4 GETs (schema twice, billed even when absent, and the',
    '                  file twice) and valid.csv, invalid.csv, report.json; per image the variants',
    '                  file, a HEAD and a GET per group and a PUT per variant; a quarantine COPY',
    "                  and .error.json; one Firehose object a minute. Storage: the month's uploads",
    '                  and outputs, kept (nothing expires current objects, so it accumulates).',
    `  DynamoDB        write units: the Claim ${2 * ASSUMPTIONS.claimItemKb} (item and byDatasetStatus entry), the final`,
    `                  record 5 (a ${ASSUMPTIONS.finalItemKb} KB item, its index entry moved), a failed Claim 1.`,
    '  EventBridge     every object created in the bucket: it sends all its events to the bus.',
    "  SQS             the rule's send, a receive and a delete per batch, idle long polls.",
    '  Kinesis         the deployed stream: one provisioned shard, a PUT payload unit per file.',
    '  Firehose        one aggregate record per file, billed as 5 KB.',
    '  CloudWatch Logs ~1 KB per invocation and per history event (the state machine logs ALL,',
    '                  with execution data).',
    'Not modelled: retries and redrives, cold starts (INIT is billed), X-Ray, KMS, data transfer,',
    `DynamoDB storage and backups, ProcessBatch (a batched file adds ${estimate.transitionsPerBatchedFile} transitions).`,
    '',
    `What dominates: Step Functions, $${(sfnPerFile * 1000).toFixed(4)} per 1,000 files at the defaults (${share} %).`,
    `The Kinesis shard is a fixed $${kinesis.toFixed(2)} a month: it costs more than the transitions below`,
    `about ${formatQuantity(kinesis / sfnPerFile)} files a month. Then ${others}.`,
    'Lambda stays small for small files and grows with --avg-bytes, as S3 storage does.',
    '',
    'Paths for --mix (shares add up to 1):',
    ...pathLines,
    '',
    'Output (-o json): { files, mix, avgBytes, pricesAsOf,',
    '  services: [{ service, quantity, unit, usd, parts: [{ quantity, unit, usd }] }],',
    '  totalUsd, perThousandFilesUsd, transitionsPerFile: { <path>: n }, transitionsPerBatchedFile }',
    'with the quantity and unit of the part that costs most (the driver).',
    '',
    'Exit codes: 0 printed; 2 a bad option. Needs no stack and makes no AWS calls.',
  ].join('\n');
}

/** `sluice cost`: the monthly AWS bill of N files a month, per service. */
export function costCommand(deps: CostDeps = {}): Command {
  const command = new Command('cost')
    .description(
      'Estimate the monthly AWS cost of processing N files a month, per service: the state ' +
        'transitions each file takes through ProcessFile (read from the ASL), its functions ' +
        "(registry memory × the benches' durations) and the requests its handlers make, at " +
        "published us-east-1 prices. Offline: it reads this repository's files, not AWS.",
    )
    .option('--files <n>', `files a month (default ${DEFAULT_INPUT.files})`)
    .option(
      '--mix <shares>',
      `the files' paths and their shares, e.g. csv=0.8,csvRejected=0.05,image=0.15 (default csv=0.5,image=0.5)`,
    )
    .option('--avg-bytes <bytes>', `average file size (default ${DEFAULT_INPUT.avgBytes})`)
    .addOption(outputOption())
    .addHelpText('after', helpText);
  return command.action(async (options: Record<string, unknown>) => {
    const stdout = deps.stdout ?? process.stdout;
    const stderr = deps.stderr ?? process.stderr;
    const exit = deps.exit ?? ((code: number) => (process.exitCode = code));
    try {
      const estimate = estimateCost(costInput(options));
      const format =
        (options.output as 'table' | 'json' | 'jsonl' | undefined) ?? defaultFormat(stdout);
      writeResult(stdout, format, format === 'table' ? estimate : json(estimate), (value) =>
        table(value as CostEstimate),
      );
      exit(0);
    } catch (error) {
      if (!(error instanceof OpsUsageError)) throw error;
      stderr.write(`sluice: ${firstLine(error.message)}\n`);
      exit(EXIT_USAGE);
    }
  });
}
