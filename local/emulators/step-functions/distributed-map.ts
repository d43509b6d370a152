import { createHash } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

type Json = ReturnType<typeof JSON.parse>;
type Handler = (input: Json) => Promise<Json>;

/** The one ItemReader the rewrite knows: every object under a prefix. */
export const LIST_OBJECTS = 'arn:aws:states:::s3:listObjectsV2';
/** The one ResultWriter it knows: the children's results as JSON files in the bucket. */
export const RESULT_WRITER = 'arn:aws:states:::s3:putObject';
/** Local only: writes the results as AWS's ResultWriter lays them out, and judges the threshold. */
const WRITE_RESULTS = 'arn:aws:states:::sluice:writeDistributedMapResults';

const ITEMS = 'sluiceMapItems';
const RESULTS = 'sluiceMapResults';
const OUTCOME = 'sluiceItemOutcome';

/** A Distributed Map the local runner cannot rewrite faithfully. */
export class UnsupportedDistributedMap extends Error {
  override readonly name = 'UnsupportedDistributedMap';
}

/** The fields a Distributed Map may carry here; anything else is refused, not guessed at. */
const ALLOWED = new Set([
  'Type',
  'Comment',
  'ItemReader',
  'ItemSelector',
  'ItemProcessor',
  'MaxConcurrency',
  'MaxConcurrencyPath',
  'ToleratedFailurePercentage',
  'ResultWriter',
  'ResultPath',
  'Retry',
  'Catch',
  'Next',
  'End',
]);

/**
 * Rewrites every Map with an `ItemReader` (a Distributed Map) into what the local interpreter
 * runs: a Parallel of the same name holding a listing Task, an inline Map over the listed items
 * and a Task that writes the results. Only here does offline differ from AWS.
 *
 * - The listing is the ItemReader's own S3 call, so the items are AWS's (`Key`, `Etag`, `Size`,
 *   `LastModified`, `StorageClass`).
 * - Each item runs in a Parallel that catches its failure, because an inline Map fails on its
 *   first failed item where a Distributed Map counts failures against ToleratedFailurePercentage.
 * - The writer puts `manifest.json` and `SUCCEEDED_0.json`/`FAILED_0.json` under the ResultWriter's
 *   prefix, then throws `States.ExceedToleratedFailureThreshold` if too many failed. The Parallel's
 *   result is `{ MapRunArn, ResultWriterDetails }`, the Distributed Map's output with a ResultWriter.
 *
 * @throws UnsupportedDistributedMap for a form other than that (no ResultWriter, ItemBatcher, …)
 */
export function localizeDistributedMaps(definition: Json): Json {
  const machine = structuredClone(definition);
  rewriteStates(machine);
  return machine;
}

function rewriteStates(machine: Json): void {
  for (const [name, state] of Object.entries<Json>(machine.States ?? {})) {
    for (const branch of state.Branches ?? []) rewriteStates(branch);
    if (state.Type === 'Map' && state.ItemReader === undefined) {
      rewriteStates(state.ItemProcessor ?? state.Iterator ?? {});
    }
    if (state.Type === 'Map' && state.ItemReader !== undefined) {
      machine.States[name] = localMap(name, state);
    }
  }
}

function localMap(name: string, map: Json): Json {
  const refuse = (why: string) => {
    throw new UnsupportedDistributedMap(`Map '${name}': ${why}`);
  };
  for (const field of Object.keys(map)) {
    if (!ALLOWED.has(field)) refuse(`${field} is not supported offline`);
  }
  if (map.ItemReader.Resource !== LIST_OBJECTS || map.ItemReader.ReaderConfig !== undefined) {
    refuse(`ItemReader must be ${LIST_OBJECTS} with no ReaderConfig`);
  }
  if (map.ResultWriter?.Resource !== RESULT_WRITER || map.ResultWriter.WriterConfig) {
    refuse(`ResultWriter must be ${RESULT_WRITER} with no WriterConfig`);
  }
  const { ProcessorConfig, ...processor } = map.ItemProcessor ?? {};
  if (ProcessorConfig?.Mode !== 'DISTRIBUTED' || ProcessorConfig?.ExecutionType !== 'STANDARD') {
    refuse('ItemProcessor.ProcessorConfig must be DISTRIBUTED with STANDARD children');
  }
  rewriteStates(processor);
  const reader = `${name} ItemReader`;
  const items = `${name} Items`;
  const writer = `${name} ResultWriter`;
  const item = `${name} Item`;
  const failed = `${name} ItemFailed`;
  const concurrency =
    map.MaxConcurrencyPath === undefined
      ? { MaxConcurrency: map.MaxConcurrency ?? 0 }
      : { MaxConcurrencyPath: map.MaxConcurrencyPath };
  return {
    Type: 'Parallel',
    Comment: `Offline form of the Distributed Map '${name}'.`,
    Branches: [
      {
        StartAt: reader,
        States: {
          [reader]: {
            Type: 'Task',
            Resource: LIST_OBJECTS,
            Parameters: map.ItemReader.Parameters,
            ResultPath: `$.${ITEMS}`,
            Next: items,
          },
          [items]: {
            Type: 'Map',
            ItemsPath: `$.${ITEMS}`,
            ...(map.ItemSelector === undefined ? {} : { ItemSelector: map.ItemSelector }),
            ...concurrency,
            ItemProcessor: {
              StartAt: item,
              States: {
                [item]: {
                  Type: 'Parallel',
                  Branches: [processor],
                  ResultSelector: { 'output.$': '$[0]' },
                  ResultPath: `$.${OUTCOME}`,
                  Catch: [
                    { ErrorEquals: ['States.ALL'], ResultPath: `$.${OUTCOME}`, Next: failed },
                  ],
                  End: true,
                },
                [failed]: { Type: 'Pass', End: true },
              },
            },
            ResultPath: `$.${RESULTS}`,
            Next: writer,
          },
          [writer]: {
            Type: 'Task',
            Resource: WRITE_RESULTS,
            Parameters: {
              'results.$': `$.${RESULTS}`,
              writer: map.ResultWriter.Parameters,
              toleratedFailurePercentage: map.ToleratedFailurePercentage ?? 0,
              state: name,
              'executionArn.$': '$$.Execution.Id',
            },
            End: true,
          },
        },
      },
    ],
    ResultSelector: {
      'MapRunArn.$': '$[0].MapRunArn',
      'ResultWriterDetails.$': '$[0].ResultWriterDetails',
    },
    ...pick(map, ['ResultPath', 'Retry', 'Catch', 'Next', 'End']),
  };
}

/**
 * The Map Run of a Distributed Map in one execution. Named after the execution and the state,
 * so a resumed run writes the same result files and reports the same Map Run.
 */
export function mapRunArnOf(executionArn: string, state: string): string {
  const [, , , region, account, , machine] = executionArn.split(':');
  const id = createHash('sha256').update(`${executionArn}\0${state}`).digest('hex').slice(0, 32);
  return `arn:aws:states:${region}:${account}:mapRun:${machine}/${state}:${id}`;
}

/** What the local API needs to report a rewritten Map's run: its states, by role. */
export interface LocalMapRunStates {
  /** The Distributed Map's own name. */
  readonly map: string;
  /** The inline Map over the listed items. */
  readonly items: string;
  /** The state an item that failed ends in. */
  readonly failed: string;
  readonly toleratedFailurePercentage: number;
  /** Its MaxConcurrency, read from the Map's input when it came from MaxConcurrencyPath. */
  maxConcurrency(input: Json): number;
}

/** Every rewritten Map in a localized definition, by the name of its inline Map. */
export function localMapRuns(definition: Json): Map<string, LocalMapRunStates> {
  const found = new Map<string, LocalMapRunStates>();
  const visit = (machine: Json) => {
    for (const [name, state] of Object.entries<Json>(machine?.States ?? {})) {
      const writer = state.Branches?.[0]?.States?.[`${name} ResultWriter`];
      if (state.Type === 'Parallel' && writer?.Resource === WRITE_RESULTS) {
        found.set(`${name} Items`, {
          map: name,
          items: `${name} Items`,
          failed: `${name} ItemFailed`,
          toleratedFailurePercentage: writer.Parameters.toleratedFailurePercentage,
          maxConcurrency: (input) => {
            const items = state.Branches[0].States[`${name} Items`];
            if (items.MaxConcurrencyPath === undefined) return items.MaxConcurrency ?? 0;
            // A reference path, `$.a.b`: the form MaxConcurrencyPath takes.
            const path = String(items.MaxConcurrencyPath)
              .replace(/^\$\.?/, '')
              .split('.');
            return Number(path.reduce((value, field) => value?.[field], input)) || 0;
          },
        });
      }
      for (const branch of state.Branches ?? []) visit(branch);
      if (state.ItemProcessor) visit(state.ItemProcessor);
    }
  };
  visit(definition);
  return found;
}

const pick = (object: Json, fields: readonly string[]) =>
  Object.fromEntries(fields.filter((f) => object[f] !== undefined).map((f) => [f, object[f]]));

/** One child's entry in a result file, as AWS writes it. */
interface ResultEntry {
  readonly Name: string;
  readonly Status: 'SUCCEEDED' | 'FAILED';
  readonly Input: string;
  readonly Output?: string;
  readonly Error?: string;
  readonly Cause?: string;
}

/** The local handlers of the rewritten states: the listing and the results. */
export function distributedMapTasks(s3: () => S3Client): (resource: string) => Handler | undefined {
  return (resource) => {
    if (resource === LIST_OBJECTS) return (input) => listObjects(s3(), input);
    if (resource === WRITE_RESULTS) return (input) => writeResults(s3(), input);
    return undefined;
  };
}

async function listObjects(s3: S3Client, input: { Bucket: string; Prefix?: string }) {
  const items: Json[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: input.Bucket,
        Prefix: input.Prefix,
        ContinuationToken: token,
      }),
    );
    for (const object of page.Contents ?? []) {
      items.push({
        Etag: object.ETag,
        Key: object.Key,
        LastModified: Math.floor((object.LastModified?.getTime() ?? 0) / 1000),
        Size: object.Size ?? 0,
        StorageClass: object.StorageClass ?? 'STANDARD',
      });
    }
    token = page.NextContinuationToken;
  } while (token);
  return items;
}

async function writeResults(
  s3: S3Client,
  input: {
    results: Json[];
    writer: { Bucket: string; Prefix?: string };
    toleratedFailurePercentage: number;
    state: string;
    executionArn: string;
  },
) {
  const mapRunArn = mapRunArnOf(input.executionArn, input.state);
  const id = mapRunArn.split(':').pop() as string;
  const succeeded: ResultEntry[] = [];
  const failed: ResultEntry[] = [];
  input.results.forEach((result, index) => {
    const { [OUTCOME]: outcome, ...item } = result;
    const entry = { Name: `${id}-${index}`, Input: JSON.stringify(item) };
    if (outcome && 'output' in outcome) {
      succeeded.push({ ...entry, Status: 'SUCCEEDED', Output: JSON.stringify(outcome.output) });
    } else {
      failed.push({ ...entry, Status: 'FAILED', Error: outcome?.Error, Cause: outcome?.Cause });
    }
  });
  const folder = `${input.writer.Prefix ? `${input.writer.Prefix.replace(/\/$/, '')}/` : ''}${id}`;
  const put = async (key: string, body: unknown) => {
    const text = JSON.stringify(body);
    await s3.send(
      new PutObjectCommand({
        Bucket: input.writer.Bucket,
        Key: key,
        Body: text,
        ContentType: 'application/json',
      }),
    );
    return { Key: key, Size: Buffer.byteLength(text) };
  };
  const files = {
    SUCCEEDED: succeeded.length > 0 ? [await put(`${folder}/SUCCEEDED_0.json`, succeeded)] : [],
    FAILED: failed.length > 0 ? [await put(`${folder}/FAILED_0.json`, failed)] : [],
    PENDING: [],
  };
  const manifestKey = `${folder}/manifest.json`;
  await put(manifestKey, {
    DestinationBucket: input.writer.Bucket,
    MapRunArn: mapRunArn,
    ResultFiles: files,
  });
  const total = input.results.length;
  if (total > 0 && (failed.length / total) * 100 > input.toleratedFailurePercentage) {
    throw Object.assign(
      new Error(
        `${failed.length} of ${total} items failed, more than the tolerated ${input.toleratedFailurePercentage}%`,
      ),
      { name: 'States.ExceedToleratedFailureThreshold' },
    );
  }
  return {
    MapRunArn: mapRunArn,
    ResultWriterDetails: { Bucket: input.writer.Bucket, Key: manifestKey },
  };
}
