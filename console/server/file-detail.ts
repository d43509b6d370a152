import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import Papa from 'papaparse';
import { executionHistory } from '../../cli/ops/execution-history.ts';
import { type FileView, showFile } from '../../cli/ops/file-view.ts';
import type { OpsTarget } from '../../cli/ops/target.ts';

/** How many of a report's errors, and of the rejected rows, the page shows inline. */
export const PREVIEW_ROWS = 20;
/** An object bigger than this is linked, not read into the page. */
const INLINE_BYTES = 1024 * 1024;

/** One output of the shown attempt, with what the page needs to show it inline. */
export interface OutputView {
  readonly key: string;
  /** variant, report, valid-rows, rejected-rows, quarantine, error-document, other. */
  readonly role: string;
  readonly bytes: number | null;
  readonly contentType: string | null;
  readonly width?: number;
  readonly height?: number;
  readonly format?: string;
  /** Why the object could not be read (deleted since, say); the page says so next to it. */
  readonly missing?: string;
}

/** One error of a CSV's report (the engine's `report.json`). */
export interface ReportError {
  readonly rowNumber?: number;
  readonly fieldName?: string;
  readonly cell?: string;
  readonly type?: string;
  readonly message: string;
}

export interface CsvDetail {
  readonly report: {
    readonly valid: boolean;
    readonly stats: Record<string, number>;
    readonly errors: readonly ReportError[];
    /** Errors in the report beyond those shown. */
    readonly moreErrors: number;
  } | null;
  /** The first rejected rows, with the `_row_number` and `_errors` columns the engine adds. */
  readonly rejected: {
    readonly header: readonly string[];
    readonly rows: readonly string[][];
  } | null;
}

/** A state run's input and output, from the history, in the order of `view.states`. */
export interface StateData {
  readonly input: string | null;
  readonly output: string | null;
}

/** Everything a file's page shows. */
export interface FileDetail {
  readonly view: FileView;
  /** The ASL of the shown execution's state machine, for the graph. */
  readonly definition: unknown;
  readonly stateData: readonly StateData[];
  readonly original: OutputView | null;
  readonly outputs: readonly OutputView[];
  readonly csv: CsvDetail | null;
  /** The `.error.json` written next to the quarantined copy. */
  readonly quarantineError: unknown;
}

function roleOf(key: string): string {
  if (key.startsWith('variants/')) return 'variant';
  if (key.startsWith('quarantine/'))
    return key.endsWith('.error.json') ? 'error-document' : 'quarantine';
  if (key.endsWith('/report.json')) return 'report';
  if (key.endsWith('/valid.csv')) return 'valid-rows';
  if (key.endsWith('/invalid.csv')) return 'rejected-rows';
  return 'other';
}

async function head(target: OpsTarget, bucket: string, key: string): Promise<OutputView> {
  try {
    const found = await target.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return {
      key,
      role: roleOf(key),
      bytes: found.ContentLength ?? null,
      contentType: found.ContentType ?? null,
    };
  } catch (error) {
    return {
      key,
      role: roleOf(key),
      bytes: null,
      contentType: null,
      missing: (error as Error).name,
    };
  }
}

async function text(target: OpsTarget, bucket: string, output: OutputView | undefined) {
  if (!output || output.missing || (output.bytes ?? 0) > INLINE_BYTES) return null;
  try {
    const object = await target.s3.send(new GetObjectCommand({ Bucket: bucket, Key: output.key }));
    return (await object.Body?.transformToString('utf8')) ?? null;
  } catch {
    return null;
  }
}

function json(source: string | null): unknown {
  if (source === null) return null;
  try {
    return JSON.parse(source);
  } catch {
    return null;
  }
}

interface Variant {
  readonly key: string;
  readonly width: number;
  readonly height: number;
  readonly format: string;
}

/** The file's page: `sluice show`'s view, its state machine, its states' data and its outputs. */
export async function fileDetail(
  target: OpsTarget,
  ref: string,
  executionArn?: string,
): Promise<FileDetail> {
  const view = await showFile(target, executionArn ?? ref);
  const stateMachineArn = view.executionArn
    ?.replace(':execution:', ':stateMachine:')
    .replace(/:[^:]*$/, '');
  const [definition, history] = await Promise.all([
    stateMachineArn
      ? target.sfn
          .send(new DescribeStateMachineCommand({ stateMachineArn }))
          .then((machine) => json(machine.definition ?? null))
          .catch(() => null)
      : null,
    view.executionArn ? executionHistory(target, view.executionArn) : [],
  ]);
  const stateData: StateData[] = [];
  const open: { name: string; data: { input: string | null; output: string | null } }[] = [];
  for (const event of history) {
    const entered = event.stateEnteredEventDetails;
    const exited = event.stateExitedEventDetails;
    if (entered?.name) {
      const data = { input: entered.input ?? null, output: null };
      stateData.push(data);
      open.push({ name: entered.name, data });
    } else if (exited?.name) {
      const at = open.findIndex((o) => o.name === exited.name);
      if (at >= 0) {
        (open[at] as (typeof open)[number]).data.output = exited.output ?? null;
        open.splice(at, 1);
      }
    }
  }

  const summary = view.summary as {
    source?: { width: number; height: number; format: string };
    variants?: readonly Variant[];
  } | null;
  const variants = new Map((summary?.variants ?? []).map((v) => [v.key, v]));
  const outputs = await Promise.all(
    view.outputs.map(async (key) => {
      const found = await head(target, view.bucket, key);
      const variant = variants.get(key);
      return variant
        ? { ...found, width: variant.width, height: variant.height, format: variant.format }
        : found;
    }),
  );
  const quarantined = outputs.find((o) => o.role === 'quarantine');
  if (quarantined) outputs.push(await head(target, view.bucket, `${quarantined.key}.error.json`));
  const original =
    view.key === null
      ? null
      : {
          ...(await head(target, view.bucket, view.key)),
          role: 'original',
          ...(summary?.source
            ? {
                width: summary.source.width,
                height: summary.source.height,
                format: summary.source.format,
              }
            : {}),
        };

  let csv: CsvDetail | null = null;
  if (view.kind === 'csv') {
    const report = json(
      await text(
        target,
        view.bucket,
        outputs.find((o) => o.role === 'report'),
      ),
    ) as { valid: boolean; stats: Record<string, number>; errors?: ReportError[] } | null;
    const rejectedText = await text(
      target,
      view.bucket,
      outputs.find((o) => o.role === 'rejected-rows'),
    );
    const parsed = rejectedText === null ? null : Papa.parse<string[]>(rejectedText.trim(), {});
    csv = {
      report: report
        ? {
            valid: report.valid,
            stats: report.stats,
            errors: (report.errors ?? []).slice(0, PREVIEW_ROWS),
            moreErrors: Math.max(0, (report.errors ?? []).length - PREVIEW_ROWS),
          }
        : null,
      rejected:
        parsed && parsed.data.length > 0
          ? {
              header: parsed.data[0] ?? [],
              rows: parsed.data.slice(1, PREVIEW_ROWS + 1),
            }
          : null,
    };
  }
  const errorDocument = outputs.find((o) => o.role === 'error-document');
  return {
    view,
    definition,
    stateData,
    original,
    outputs,
    csv,
    quarantineError: json(await text(target, view.bucket, errorDocument)),
  };
}
