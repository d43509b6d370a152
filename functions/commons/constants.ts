/** Where uploads land; only this prefix starts executions, so outputs never re-trigger the flow. */
export const INCOMING_PREFIX = 'incoming/';
/** Per-dataset configuration: `<dataset>.json` (Table Schema) and `<dataset>.variants.json`. */
export const SCHEMAS_PREFIX = 'schemas/';
export const VARIANTS_PREFIX = 'variants/';
export const VALIDATED_PREFIX = 'validated/';
export const QUARANTINE_PREFIX = 'quarantine/';
export const AGGREGATES_PREFIX = 'aggregates/';

/** Env var names the function registry sets alongside the matching grant. */
export const ENV = {
  bucket: 'BUCKET_NAME',
  table: 'TABLE_NAME',
  stream: 'STREAM_NAME',
  stateMachine: 'STATE_MACHINE_ARN',
  noticeTopic: 'NOTICE_TOPIC_ARN',
  expectations: 'DATASET_EXPECTATIONS',
} as const;

/** The run ledger's key schema and index, shared by CDK, the local runtime and the code. */
export const LEDGER = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** "Failed files of dataset X since T": partition `dataset`, sort `statusAt` = `STATUS#iso-time`. */
  statusIndex: 'byDatasetStatus',
  statusIndexPartitionKey: 'dataset',
  statusIndexSortKey: 'statusAt',
} as const;

export const SERVICE_NAME = 'sluice';

/**
 * The per-file EMF metric: RecordOutcome emits it once per final outcome and the dashboard graphs
 * it, so both read its names from here. Powertools adds its default `service` dimension as well.
 */
export const FILES_METRIC = {
  namespace: SERVICE_NAME,
  metricName: 'Files',
  datasetDimension: 'dataset',
  kindDimension: 'kind',
  statusDimension: 'status',
} as const;

/**
 * The EMF metric a file task emits when it throws an `InputError`: the file's fault, which the
 * ASL quarantines. The Errors alarm subtracts it from Lambda's own `Errors`, so both read its
 * names from here. One count per throw, by `function_name` (Powertools' own name for it, as on
 * its `ColdStart` metric) beside the constant `service`: one custom metric per function, whose
 * value is Lambda's own `FunctionName` dimension. Nothing per file or dataset: the ledger has
 * those, and each distinct dimension set is billed as a metric of its own.
 */
export const INPUT_ERRORS_METRIC = {
  namespace: SERVICE_NAME,
  metricName: 'InputErrors',
  serviceDimension: 'service',
  functionDimension: 'function_name',
} as const;
