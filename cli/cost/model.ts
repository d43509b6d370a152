import { DEFAULT_IMAGE_CONFIG, planVariantGroups } from '#commons/image/variants.ts';
import { FUNCTIONS, type FunctionId, UPLOAD_QUEUE } from '../../functions/registry.ts';
import processBatchDefinition from '../../statemachine/process-batch.asl.json' with {
  type: 'json',
};
import processFileDefinition from '../../statemachine/process-file.asl.json' with { type: 'json' };

// The monthly AWS cost of sluice, from what the code does: the states a file passes through in
// process-file.asl.json, the functions' memory in functions/registry.ts, the requests each
// handler makes, the benchmarks' durations and the published prices. Pure: no AWS, no files.

/** Published us-east-1 list prices, in USD, as of `asOf`; no free tier, no savings plans. */
export const PRICES = {
  asOf: '2026-12-01',
  region: 'us-east-1',
  stepFunctions: {
    /** Standard workflows: $0.025 per 1,000 state transitions. */
    perTransition: 0.025 / 1_000,
  },
  stepFunctionsExpress: {
    /** $1.00 per 1M requests (executions started). */
    perRequest: 1 / 1_000_000,
    /** Per GB-second of execution, the memory billed in 64 MB chunks, the duration per 100 ms. */
    perGbSecond: 0.000_016_67,
    memoryChunkMb: 64,
    durationStepMs: 100,
  },
  lambda: {
    /** arm64, the architecture of every sluice function. */
    perGbSecond: 0.000_013_333_4,
    perRequest: 0.2 / 1_000_000,
  },
  dynamodb: {
    /** On-demand; $0.625 per 1M since the November 2024 cut (it was $1.25). */
    perWriteRequestUnit: 0.625 / 1_000_000,
    perReadRequestUnit: 0.125 / 1_000_000,
  },
  s3: {
    /** S3 Standard PUT, COPY, POST and LIST requests (multipart parts count one each). */
    perPut: 0.005 / 1_000,
    /** GET, HEAD and the other reads. */
    perGet: 0.0004 / 1_000,
    perGbMonth: 0.023,
  },
  sqs: {
    /** Standard queue, per 64 KB chunk of a request. */
    perRequest: 0.4 / 1_000_000,
  },
  eventBridge: {
    /** S3's events are "AWS opt-in data events", billed as custom events, per 64 KB chunk. */
    perEvent: 1 / 1_000_000,
  },
  kinesis: {
    onDemand: { perGbIn: 0.08, perStreamHour: 0.04 },
    /** What lib/aggregates-delivery.ts deploys: a provisioned stream of one shard. */
    provisioned: { perShardHour: 0.015, perPutPayloadUnit: 0.014 / 1_000_000 },
  },
  firehose: {
    /** Ingestion from a Kinesis stream, each record rounded up to 5 KB. */
    perGbIngested: 0.029,
    recordIncrementBytes: 5 * 1024,
  },
  cloudWatchLogs: {
    /** Standard log class ingestion; a month's retention costs little beside it. */
    perGbIngested: 0.5,
  },
} as const;

/** The ASL shape the walk reads: nothing but what decides which states run. */
export interface AslMachine {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
}

export interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Resource?: string;
  readonly Error?: string;
  readonly Choices?: readonly { readonly Next: string }[];
  readonly Default?: string;
  readonly Catch?: readonly { readonly ErrorEquals: readonly string[]; readonly Next: string }[];
  readonly Branches?: readonly AslMachine[];
  readonly ItemProcessor?: AslMachine;
  /** The ItemProcessor's name before 2022. */
  readonly Iterator?: AslMachine;
}

/** What happens to a file on its way: the walk needs it wherever the ASL branches. */
export interface PathDecisions {
  /** At each Choice state on the way, the state it goes to. */
  readonly choices?: Readonly<Record<string, string>>;
  /** States that fail on this path, each with the error name it fails with. */
  readonly failures?: Readonly<Record<string, string>>;
  /** How many items each Map state on the way iterates over. */
  readonly mapIterations?: Readonly<Record<string, number>>;
}

/** One state entered by an execution. */
export interface StateVisit {
  readonly name: string;
  readonly type: string;
  readonly resource?: string;
  /** The error the state failed with, on a path that fails it. */
  readonly error?: string;
  /** A Map's iterations. */
  readonly iterations?: number;
}

/** The states one execution enters, in order, and the error it ends with, if any. */
export interface Walk {
  readonly visits: readonly StateVisit[];
  readonly error?: string;
}

// A walk longer than this is a loop the decisions never leave.
const MAX_VISITS = 10_000;

function catcherOf(state: AslState, error: string): string | undefined {
  return state.Catch?.find(
    ({ ErrorEquals }) =>
      ErrorEquals.includes(error) ||
      ErrorEquals.includes('States.ALL') ||
      (ErrorEquals.includes('States.TaskFailed') && error !== 'States.Timeout'),
  )?.Next;
}

/**
 * The states an execution of `machine` enters along `path`, as Step Functions bills a Standard
 * workflow: every state entered is a transition, Choice and Pass included, and so are a Map or
 * Parallel state itself and every state inside each iteration or branch. Follows `Next`, the
 * Choice target the path names (checked against `Choices` and `Default`), `End`, and on a
 * failure the first `Catch` that matches, or the failure ends the walk. Retries are none.
 *
 * @throws Error when the path misses a decision the machine needs, or names a state it lacks.
 */
export function walkMachine(machine: AslMachine, path: PathDecisions): Walk {
  const visits: StateVisit[] = [];
  let name: string | undefined = machine.StartAt;
  while (name !== undefined) {
    const state: AslState | undefined = machine.States[name];
    if (state === undefined) throw new Error(`the ASL has no state '${name}'`);
    if (visits.length > MAX_VISITS) throw new Error(`the walk loops through '${name}'`);
    const here: StateVisit = { name, type: state.Type, resource: state.Resource };
    const index = visits.push(here) - 1;
    let error: string | undefined = path.failures?.[name];

    if (state.Type === 'Choice') {
      const target: string | undefined = path.choices?.[name];
      const targets: (string | undefined)[] = [
        ...(state.Choices ?? []).map((choice) => choice.Next),
        state.Default,
      ];
      if (target === undefined || !targets.includes(target)) {
        throw new Error(
          `Choice '${name}' goes to one of ${targets.filter(Boolean).join(', ')}: the path chooses ${target ?? 'none'}`,
        );
      }
      name = target;
      continue;
    }
    if (state.Type === 'Parallel') {
      for (const branch of state.Branches ?? []) {
        const walk = walkMachine(branch, path);
        visits.push(...walk.visits);
        error ??= walk.error;
      }
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      const iterations = path.mapIterations?.[name];
      if (processor === undefined) throw new Error(`Map '${name}' has no ItemProcessor`);
      if (iterations === undefined) throw new Error(`the path gives no iterations for '${name}'`);
      visits[index] = { ...here, iterations };
      for (let i = 0; i < iterations; i++) {
        const walk = walkMachine(processor, path);
        visits.push(...walk.visits);
        error ??= walk.error;
      }
    }
    if (state.Type === 'Fail') error = state.Error ?? 'States.Fail';

    if (error !== undefined) {
      if (path.failures?.[name] !== undefined) visits[index] = { ...here, ...visits[index], error };
      const next = catcherOf(state, error);
      if (next === undefined) return { visits, error };
      name = next;
      continue;
    }
    name = state.End || state.Type === 'Succeed' ? undefined : state.Next;
    if (name === undefined && !state.End && state.Type !== 'Succeed') {
      throw new Error(`state '${here.name}' has neither Next nor End`);
    }
  }
  return { visits };
}

/**
 * History events of the walk's execution, which the state machine's log group receives one
 * record each (LogLevel.ALL): a Task enters, is scheduled, starts, ends and exits; a Pass or
 * Choice enters and exits; a Map or Parallel adds its start and end, and each iteration two.
 */
export function historyEvents(walk: Walk): number {
  let events = 2; // ExecutionStarted and the execution's end
  for (const visit of walk.visits) {
    if (visit.type === 'Task') events += 5;
    else if (visit.type === 'Map') events += 4 + 2 * (visit.iterations ?? 0);
    else if (visit.type === 'Parallel') events += 4;
    else if (visit.type === 'Fail') events += 1;
    else events += 2;
  }
  return events;
}

/** The ways a file goes through ProcessFile, by the names `--mix` and the JSON use. */
export const FILE_PATHS = ['csv', 'csvRejected', 'image', 'duplicate', 'unsupported'] as const;
export type FilePathName = (typeof FILE_PATHS)[number];

export interface FilePath extends PathDecisions {
  readonly description: string;
  /** The file's kind, for the durations and requests that depend on it. */
  readonly kind: 'csv' | 'image' | 'other';
  /** A new upload: its PUT and stored bytes count. A duplicate is another delivery of one. */
  readonly upload: boolean;
}

/** The default variants' Map iterations: one group per output format (planVariantGroups). */
export const DEFAULT_VARIANT_GROUPS = planVariantGroups(DEFAULT_IMAGE_CONFIG);

/** The paths through ProcessFile, each told by the decisions it takes where the ASL branches. */
export function filePaths(
  variantGroups: number = DEFAULT_VARIANT_GROUPS.length,
): Readonly<Record<FilePathName, FilePath>> {
  return {
    csv: {
      description: 'a CSV that passes validation',
      kind: 'csv',
      upload: true,
      choices: { RouteByKind: 'CheckCsv', CsvAccepted: 'RecordResult' },
    },
    csvRejected: {
      description: 'a CSV rejected by its schema, then quarantined',
      kind: 'csv',
      upload: true,
      choices: { RouteByKind: 'CheckCsv', CsvAccepted: 'CsvRejected' },
    },
    image: {
      description: `an image, one Map iteration per variant group (${variantGroups} by default)`,
      kind: 'image',
      upload: true,
      choices: { RouteByKind: 'PlanImage' },
      mapIterations: { ResizeVariants: variantGroups },
    },
    duplicate: {
      description: 'an execution whose Claim finds the version taken (an upload racing a batch)',
      kind: 'other',
      upload: false,
      failures: { Claim: 'DynamoDB.ConditionalCheckFailedException' },
    },
    unsupported: {
      description: 'a file neither CSV nor image, quarantined',
      kind: 'other',
      upload: true,
      choices: { RouteByKind: 'UnsupportedKind' },
    },
  };
}

/** ProcessFile's definition, as CDK and the local runner load it. */
export const PROCESS_FILE = processFileDefinition as unknown as AslMachine;

/** What ProcessBatch adds per file it hands to ProcessFile: one Distributed Map child. */
export function batchItemWalk(): Walk {
  const batch = processBatchDefinition as unknown as AslMachine;
  const map = Object.values(batch.States).find((state) => state.ItemProcessor !== undefined);
  if (map?.ItemProcessor === undefined) throw new Error('ProcessBatch has no Map');
  return walkMachine(map.ItemProcessor, { choices: { ShouldProcess: 'ProcessFile' } });
}

/** Transitions per file on each path through `machine`. */
export function transitionsPerPath(
  machine: AslMachine = PROCESS_FILE,
  paths: Readonly<Record<FilePathName, FilePath>> = filePaths(),
): Record<FilePathName, number> {
  return Object.fromEntries(
    FILE_PATHS.map((name) => [name, walkMachine(machine, paths[name]).visits.length]),
  ) as Record<FilePathName, number>;
}

/** A duration measured offline, and how it grows with the file's size. */
export interface MeasuredDuration {
  /** Milliseconds per invocation for a file of `baseBytes` or less. */
  readonly ms: number;
  readonly baseBytes: number;
  /** Milliseconds added per MiB above `baseBytes`; 0 for the functions that never read the file. */
  readonly msPerMiB: number;
  /** The bench and the day it was measured. */
  readonly source: string;
}

const SMALL = 1024;
const MiB = 1024 * 1024;

/**
 * Warm durations per invocation, from the benchmarks. These are offline figures on a 2-core VM
 * against the local emulators: on AWS the network to S3 is slower than a local s3rver, a 1 GB
 * function has about half the vCPU of this machine's core, and cold starts (INIT is billed) come
 * on top. Take them as the order of magnitude the model needs, not as AWS's figures.
 */
export const DURATIONS: Readonly<Partial<Record<FunctionId, MeasuredDuration>>> = {
  StartExecution: {
    ms: 30,
    baseBytes: SMALL,
    msPerMiB: 0,
    source: 'bench overhead, 2026-12-03: one SQS batch of 10 events, StartExecution each',
  },
  PlanImage: {
    ms: 20,
    baseBytes: SMALL,
    msPerMiB: 0,
    source: 'bench overhead, 2026-12-03: reads no variants file, plans the default groups',
  },
  ResizeImage: {
    ms: 120,
    baseBytes: SMALL,
    msPerMiB: 60,
    source:
      'bench overhead, 2026-12-03: a 64×48 PNG; bench image, 2026-12-01: 12 MP JPEGs (~5 MB) to three variants in ~0.4 s',
  },
  ValidateCsv: {
    ms: 40,
    baseBytes: SMALL,
    msPerMiB: 27,
    source:
      'bench overhead, 2026-12-03: a 20-row CSV; bench csv, 2026-12-01: 1M rows, 64 MB, every rule, in 1.4–2.1 s',
  },
  ProfileCsv: {
    ms: 30,
    baseBytes: SMALL,
    msPerMiB: 12,
    source:
      'bench overhead, 2026-12-03: a 20-row CSV; bench csv, 2026-12-01: the streaming parse of 64 MB in 0.65–0.9 s',
  },
  RecordOutcome: {
    ms: 20,
    baseBytes: SMALL,
    msPerMiB: 0,
    source: 'bench overhead, 2026-12-03: one PutItem',
  },
  QuarantineFile: {
    ms: 30,
    baseBytes: SMALL,
    msPerMiB: 0,
    source: 'bench orchestration, 2026-12-03: a server-side CopyObject and a PutObject',
  },
  PublishAggregates: {
    ms: 25,
    baseBytes: SMALL,
    msPerMiB: 0,
    source: 'bench overhead, 2026-12-03: one PutRecords',
  },
};

/** A function's duration for a file of `bytes`, growing linearly above its base size. */
export function durationMs(id: FunctionId, bytes: number): number {
  const measured = DURATIONS[id];
  if (measured === undefined) throw new Error(`no measured duration for function ${id}`);
  return measured.ms + (measured.msPerMiB * Math.max(0, bytes - measured.baseBytes)) / MiB;
}

/** What one request to the other services costs in their units. */
export interface Usage {
  transitions: number;
  historyEvents: number;
  lambdaGbSeconds: number;
  lambdaRequests: number;
  s3Puts: number;
  s3Gets: number;
  storedBytes: number;
  /** Objects created in the bucket: each is an event on the default bus (EventBridge is on). */
  objectsCreated: number;
  writeUnits: number;
  readUnits: number;
  sqsRequests: number;
  kinesisRecords: number;
  kinesisBytes: number;
  logBytes: number;
}

const ZERO: Usage = {
  transitions: 0,
  historyEvents: 0,
  lambdaGbSeconds: 0,
  lambdaRequests: 0,
  s3Puts: 0,
  s3Gets: 0,
  storedBytes: 0,
  objectsCreated: 0,
  writeUnits: 0,
  readUnits: 0,
  sqsRequests: 0,
  kinesisRecords: 0,
  kinesisBytes: 0,
  logBytes: 0,
};

function add(a: Usage, b: Partial<Usage>, times = 1): Usage {
  const sum = { ...a };
  for (const key of Object.keys(b) as (keyof Usage)[]) sum[key] += (b[key] ?? 0) * times;
  return sum;
}

/** Sizes the model assumes, where the code gives no figure. */
export const ASSUMPTIONS = {
  /** A claimed ledger item (the Claim's attributes): one write unit. */
  claimItemKb: 1,
  /** A final ledger item with its outputs and summary (a CSV's profile is the largest). */
  finalItemKb: 2,
  /** A skipped duplicate's item. */
  duplicateItemKb: 1,
  /** The aggregate record, JSON, newline-terminated. */
  aggregateBytes: 400,
  /** report.json of a CSV; `.error.json` of a quarantined file. */
  reportBytes: 2048,
  errorBytes: 512,
  /** All variants of an image together, as a share of the source's bytes. */
  variantBytesPerSourceByte: 1,
  /** Lines per invocation in a function's log group: START, END, REPORT and Powertools' JSON. */
  logBytesPerInvocation: 1024,
  /** A history event in the state machine's log group, with its input and output. */
  logBytesPerHistoryEvent: 1024,
  /** lib-storage's part size: a larger stream is a multipart upload. */
  partBytes: 5 * MiB,
  /** The Lambda SQS poller's idle long polls: 5 pollers, one 20 s receive each at a time. */
  idlePollers: 5,
  idleReceivesPerPollerMinute: 3,
  /** Firehose's buffering interval (lib/aggregates-delivery.ts): at most one object each. */
  firehoseBufferSeconds: 60,
  kinesisShards: 1,
  hoursPerMonth: 730,
} as const;

/** The requests of an upload that streams `bytes` through lib-storage's Upload. */
function streamedPuts(bytes: number): number {
  return bytes <= ASSUMPTIONS.partBytes ? 1 : 2 + Math.ceil(bytes / ASSUMPTIONS.partBytes);
}

/** What one invocation of a function asks of S3, DynamoDB and Kinesis, read from its handler. */
type HandlerUsage = (file: { readonly bytes: number; readonly variants: number }) => Partial<Usage>;

const WRITE_UNIT_KB = 1;
const HANDLER_USAGE: Readonly<Partial<Record<FunctionId, HandlerUsage>>> = {
  // readJsonIfExists of the variants file: a GET, billed even when it answers NoSuchKey.
  PlanImage: () => ({ s3Gets: 1 }),
  // GetObject (its Content-Length checked before the body is read), then one PutObject per
  // variant of the group.
  ResizeImage: ({ bytes, variants }) => ({
    s3Gets: 1,
    s3Puts: variants,
    objectsCreated: variants,
    storedBytes: bytes * ASSUMPTIONS.variantBytesPerSourceByte,
  }),
  // The schema (a GET even when absent) and the upload; valid.csv and invalid.csv through
  // lib-storage (valid.csv about the upload's size), then report.json.
  ValidateCsv: ({ bytes }) => ({
    s3Gets: 2,
    s3Puts: streamedPuts(bytes) + streamedPuts(0) + 1,
    objectsCreated: 3,
    storedBytes: bytes + ASSUMPTIONS.reportBytes,
  }),
  // The schema and the upload, streamed once.
  ProfileCsv: () => ({ s3Gets: 2 }),
  // One PutItem over the claimed item: the table's units go by the larger item, and the index
  // entry moves (statusAt changes), a delete of the old entry and a put of the new one.
  RecordOutcome: () => ({
    writeUnits:
      Math.ceil(ASSUMPTIONS.finalItemKb / WRITE_UNIT_KB) +
      Math.ceil(ASSUMPTIONS.claimItemKb / WRITE_UNIT_KB) +
      Math.ceil(ASSUMPTIONS.finalItemKb / WRITE_UNIT_KB),
  }),
  // CopyObject (a PUT-class request) and the `.error.json` beside it.
  QuarantineFile: ({ bytes }) => ({
    s3Puts: 2,
    objectsCreated: 2,
    storedBytes: bytes + ASSUMPTIONS.errorBytes,
  }),
  // One PutRecords of one record; Firehose reads it from the stream.
  PublishAggregates: () => ({
    kinesisRecords: 1,
    kinesisBytes: ASSUMPTIONS.aggregateBytes,
  }),
};

/** The DynamoDB integrations' write units, by Resource: a failed conditional put still bills. */
const INTEGRATION_USAGE: Readonly<Record<string, (visit: StateVisit) => Partial<Usage>>> = {
  // A new item and its index entry (it has the index's keys), or a failed condition check.
  'arn:aws:states:::dynamodb:putItem': (visit) => ({
    writeUnits: visit.error === undefined ? 2 * Math.ceil(ASSUMPTIONS.claimItemKb) : 1,
  }),
};

const FUNCTION_ARN = /^\$\{(\w+)FunctionArn\}$/;

/** The registry entry of a function, for its memory and timeout. */
export function registryEntry(id: string): (typeof FUNCTIONS)[number] {
  const fn = FUNCTIONS.find((each) => each.id === id);
  if (fn === undefined) throw new Error(`the registry has no function ${id}`);
  return fn;
}

function invocation(id: FunctionId, bytes: number): Partial<Usage> {
  const fn = registryEntry(id);
  const seconds = durationMs(id, bytes) / 1000;
  if (seconds > fn.timeoutSeconds) {
    throw new RangeError(
      `${id} would run about ${seconds.toFixed(0)} s on ${bytes} bytes, past its ${fn.timeoutSeconds} s timeout`,
    );
  }
  return {
    lambdaGbSeconds: (fn.memorySize / 1024) * seconds,
    lambdaRequests: 1,
    logBytes: ASSUMPTIONS.logBytesPerInvocation,
  };
}

/**
 * What one file on `path` costs in each service's units: its execution's transitions and
 * history, each Task's function (memory × duration) and that handler's requests, its upload,
 * and its event's trip through EventBridge, SQS and the start function (per batch of 10).
 */
export function usageOfPath(
  path: FilePath,
  bytes: number,
  machine: AslMachine = PROCESS_FILE,
  variantsPerGroup: number = DEFAULT_IMAGE_CONFIG.variants.length / DEFAULT_VARIANT_GROUPS.length,
): Usage {
  const walk = walkMachine(machine, path);
  const events = historyEvents(walk);
  let usage = add(ZERO, {
    transitions: walk.visits.length,
    historyEvents: events,
    logBytes: events * ASSUMPTIONS.logBytesPerHistoryEvent,
  });
  for (const visit of walk.visits) {
    if (visit.type !== 'Task' || visit.resource === undefined) continue;
    const id = FUNCTION_ARN.exec(visit.resource)?.[1] as FunctionId | undefined;
    if (id !== undefined) {
      const handler = HANDLER_USAGE[id];
      if (handler === undefined) throw new Error(`no request count for function ${id}`);
      usage = add(usage, invocation(id, bytes));
      usage = add(usage, handler({ bytes, variants: variantsPerGroup }));
      continue;
    }
    const integration = INTEGRATION_USAGE[visit.resource];
    if (integration === undefined) throw new Error(`no request count for ${visit.resource}`);
    usage = add(usage, integration(visit));
  }
  if (path.upload) usage = add(usage, { s3Puts: 1, objectsCreated: 1, storedBytes: bytes });
  // EventBridge's SendMessage; the poller's receive and delete, and the start, per batch.
  const perBatch = 1 / UPLOAD_QUEUE.batchSize;
  usage = add(usage, { sqsRequests: 1 + 2 * perBatch });
  usage = add(usage, invocation('StartExecution', bytes), perBatch);
  return usage;
}

/** What `sluice cost` models: N files a month in these shares, of this average size. */
export interface CostInput {
  readonly files: number;
  readonly mix: Readonly<Partial<Record<FilePathName, number>>>;
  readonly avgBytes: number;
}

export const DEFAULT_INPUT: CostInput = {
  files: 100_000,
  mix: { csv: 0.5, image: 0.5 },
  avgBytes: 100_000,
};

export interface CostPart {
  readonly quantity: number;
  readonly unit: string;
  readonly usd: number;
}

export interface ServiceCost {
  readonly service: string;
  /** The part that costs most: the service's driver. */
  readonly quantity: number;
  readonly unit: string;
  readonly usd: number;
  /** Every priced dimension of the service, the driver first. */
  readonly parts: readonly CostPart[];
}

export interface CostEstimate {
  readonly files: number;
  readonly mix: Readonly<Partial<Record<FilePathName, number>>>;
  readonly avgBytes: number;
  readonly pricesAsOf: string;
  readonly services: readonly ServiceCost[];
  readonly totalUsd: number;
  readonly perThousandFilesUsd: number;
  readonly transitionsPerFile: Readonly<Record<FilePathName, number>>;
  /** What a file costs ProcessBatch on top, when a batch rather than an upload starts it. */
  readonly transitionsPerBatchedFile: number;
}

const GB = 1024 ** 3;

function service(name: string, parts: CostPart[]): ServiceCost {
  const sorted = [...parts].sort((a, b) => b.usd - a.usd);
  const driver = sorted[0] ?? { quantity: 0, unit: '', usd: 0 };
  const usd = sorted.reduce((sum, part) => sum + part.usd, 0);
  return { service: name, quantity: driver.quantity, unit: driver.unit, usd, parts: sorted };
}

/** The month's usage of every service for `input`, with the fixed charges of the stack. */
export function monthlyUsage(input: CostInput, machine: AslMachine = PROCESS_FILE): Usage {
  const paths = filePaths();
  let usage = ZERO;
  for (const name of FILE_PATHS) {
    const share = input.mix[name] ?? 0;
    if (share === 0) continue;
    usage = add(usage, usageOfPath(paths[name], input.avgBytes, machine), input.files * share);
  }
  return usage;
}

/** The monthly bill of `input`, per service, at {@link PRICES}. */
export function estimateCost(input: CostInput, machine: AslMachine = PROCESS_FILE): CostEstimate {
  const usage = monthlyUsage(input, machine);
  const p = PRICES;
  const hours = ASSUMPTIONS.hoursPerMonth;
  // The poller long-polls even when the queue is empty; with traffic, its receives bring batches.
  const idleReceives =
    ASSUMPTIONS.idlePollers * ASSUMPTIONS.idleReceivesPerPollerMinute * hours * 60;
  const batches = (input.files * sumShares(input.mix)) / UPLOAD_QUEUE.batchSize;
  const sqsRequests = usage.sqsRequests + Math.max(0, idleReceives - batches);
  // Firehose writes one object per buffering interval that received a record (arrivals spread
  // over the month), and each object is one more event on the bus.
  const intervals = (hours * 3600) / ASSUMPTIONS.firehoseBufferSeconds;
  const firehoseObjects =
    usage.kinesisRecords === 0 ? 0 : intervals * (1 - Math.exp(-usage.kinesisRecords / intervals));
  const firehoseBytes = usage.kinesisRecords * p.firehose.recordIncrementBytes;
  const s3Puts = usage.s3Puts + firehoseObjects;
  const storedGb = (usage.storedBytes + usage.kinesisBytes) / GB;
  const logGb = usage.logBytes / GB;

  const services = [
    service('Step Functions', [
      {
        quantity: usage.transitions,
        unit: 'transitions',
        usd: usage.transitions * p.stepFunctions.perTransition,
      },
    ]),
    service('Lambda', [
      {
        quantity: usage.lambdaGbSeconds,
        unit: 'GB-s',
        usd: usage.lambdaGbSeconds * p.lambda.perGbSecond,
      },
      {
        quantity: usage.lambdaRequests,
        unit: 'requests',
        usd: usage.lambdaRequests * p.lambda.perRequest,
      },
    ]),
    service('S3', [
      { quantity: s3Puts, unit: 'PUTs', usd: s3Puts * p.s3.perPut },
      { quantity: usage.s3Gets, unit: 'GETs', usd: usage.s3Gets * p.s3.perGet },
      { quantity: storedGb, unit: 'GB-month', usd: storedGb * p.s3.perGbMonth },
    ]),
    service('DynamoDB', [
      {
        quantity: usage.writeUnits,
        unit: 'write units',
        usd: usage.writeUnits * p.dynamodb.perWriteRequestUnit,
      },
      ...(usage.readUnits > 0
        ? [
            {
              quantity: usage.readUnits,
              unit: 'read units',
              usd: usage.readUnits * p.dynamodb.perReadRequestUnit,
            },
          ]
        : []),
    ]),
    service('SQS', [
      { quantity: sqsRequests, unit: 'requests', usd: sqsRequests * p.sqs.perRequest },
    ]),
    service('EventBridge', [
      {
        quantity: usage.objectsCreated + firehoseObjects,
        unit: 'events',
        usd: (usage.objectsCreated + firehoseObjects) * p.eventBridge.perEvent,
      },
    ]),
    service('Kinesis', [
      {
        quantity: ASSUMPTIONS.kinesisShards * hours,
        unit: 'shard-hours',
        usd: ASSUMPTIONS.kinesisShards * hours * p.kinesis.provisioned.perShardHour,
      },
      // A PUT payload unit is 25 KB: one per aggregate record.
      {
        quantity: usage.kinesisRecords,
        unit: 'PUT units',
        usd: usage.kinesisRecords * p.kinesis.provisioned.perPutPayloadUnit,
      },
    ]),
    service('Firehose', [
      {
        quantity: firehoseBytes / GB,
        unit: 'GB billed',
        usd: (firehoseBytes / GB) * p.firehose.perGbIngested,
      },
    ]),
    service('CloudWatch Logs', [
      { quantity: logGb, unit: 'GB ingested', usd: logGb * p.cloudWatchLogs.perGbIngested },
    ]),
  ];
  const totalUsd = services.reduce((sum, each) => sum + each.usd, 0);
  return {
    files: input.files,
    mix: input.mix,
    avgBytes: input.avgBytes,
    pricesAsOf: p.asOf,
    services,
    totalUsd,
    perThousandFilesUsd: input.files === 0 ? 0 : (totalUsd / input.files) * 1000,
    transitionsPerFile: transitionsPerPath(machine),
    transitionsPerBatchedFile: batchItemWalk().visits.length,
  };
}

function sumShares(mix: Readonly<Partial<Record<FilePathName, number>>>): number {
  return Object.values(mix).reduce((sum: number, share) => sum + (share ?? 0), 0);
}

/**
 * Parses `--mix csv=0.5,image=0.5`: shares of the paths in {@link FILE_PATHS}, adding up to 1.
 * @throws RangeError naming the part that is wrong
 */
export function parseMix(text: string): Partial<Record<FilePathName, number>> {
  const mix: Partial<Record<FilePathName, number>> = {};
  for (const part of text.split(',')) {
    const [name, value, extra] = part.split('=').map((each) => each.trim());
    if (!FILE_PATHS.includes(name as FilePathName) || value === undefined || extra !== undefined) {
      throw new RangeError(`'${part}' is not path=share; the paths are ${FILE_PATHS.join(', ')}`);
    }
    const share = value === '' ? Number.NaN : Number(value);
    if (!Number.isFinite(share) || share < 0 || share > 1) {
      throw new RangeError(`the share of ${name} must be a number from 0 to 1, got '${value}'`);
    }
    if (mix[name as FilePathName] !== undefined) throw new RangeError(`${name} is given twice`);
    mix[name as FilePathName] = share;
  }
  const total = sumShares(mix);
  if (Math.abs(total - 1) > 1e-9) {
    throw new RangeError(`the shares add up to ${Number(total.toFixed(6))}, not 1`);
  }
  return mix;
}

/**
 * Checks that the model holds at this size: an image above the variants' byte limit is
 * quarantined, not resized, and no function may run past its registry timeout.
 * @throws RangeError saying what breaks
 */
export function checkInput(input: CostInput): void {
  const images = (input.mix.image ?? 0) > 0;
  if (images && input.avgBytes > DEFAULT_IMAGE_CONFIG.maxBytes) {
    throw new RangeError(
      `images over ${DEFAULT_IMAGE_CONFIG.maxBytes} bytes are quarantined, not resized`,
    );
  }
  const paths = filePaths();
  for (const name of FILE_PATHS) {
    if ((input.mix[name] ?? 0) > 0) usageOfPath(paths[name], input.avgBytes);
  }
}
