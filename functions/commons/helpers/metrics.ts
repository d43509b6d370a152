import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { BatchSummary } from '#commons/batch.ts';
import { FILES_METRIC, INPUT_ERRORS_METRIC, SERVICE_NAME } from '#commons/constants.ts';
import type { AggregateRecord } from '#commons/types.ts';
import { logger } from './logger.ts';

/**
 * One EMF metrics buffer per execution environment. `POWERTOOLS_METRICS_DISABLED` turns it off
 * (the local runtime sets it unless `SLUICE_METRICS=1`); its own warnings go through the logger,
 * so function logs stay structured JSON.
 */
export const metrics = new Metrics({ namespace: SERVICE_NAME, serviceName: SERVICE_NAME, logger });

const { datasetDimension, kindDimension, statusDimension } = FILES_METRIC;

/** What one file's final outcome adds to the metrics, beyond its aggregate record. */
export interface FileMetricsExtra {
  /** Bytes of the variants written, when the image branch ran. */
  readonly variantBytes?: number;
}

/**
 * Emits a file's final outcome: `Files` by dataset, kind and status, then its sizes and duration.
 * Dimensions are billed per distinct combination, so only `Files` carries kind and status; the
 * others carry `dataset` alone (plus Powertools' constant `service`). Datasets are a configured
 * handful, and a spike in invalid rows or duration is only actionable once you know whose
 * files it is; the metric name already says the kind (`Rows` is CSV, `VariantBytes` image).
 * Nothing per file (key, execution) becomes a dimension: that would be a metric per upload.
 *
 * Publishes at once, so a failed invocation can leave nothing in the buffer for the next one.
 */
export function publishFileMetrics(aggregate: AggregateRecord, extra: FileMetricsExtra = {}): void {
  // A metric of its own: EMF gives all metrics of one blob the same dimensions.
  metrics
    .singleMetric()
    .addDimension(datasetDimension, aggregate.dataset)
    .addDimension(kindDimension, aggregate.kind)
    .addDimension(statusDimension, aggregate.outcome)
    .addMetric(FILES_METRIC.metricName, MetricUnit.Count, 1);

  metrics.addDimension(datasetDimension, aggregate.dataset);
  if (aggregate.rows !== null) metrics.addMetric('Rows', MetricUnit.Count, aggregate.rows);
  if (aggregate.invalidRows !== null) {
    metrics.addMetric('InvalidRows', MetricUnit.Count, aggregate.invalidRows);
  }
  if (extra.variantBytes !== undefined) {
    metrics.addMetric('VariantBytes', MetricUnit.Bytes, extra.variantBytes);
  }
  metrics.addMetric('FileDuration', MetricUnit.Milliseconds, aggregate.durationMs);
  metrics.publishStoredMetrics();
}

/**
 * Emits a batch's summary: `BatchFiles` by status, and `BatchExceeded` (0 or 1) with only the
 * `service` dimension, so one alarm on its maximum covers every schedule.
 */
export function publishBatchMetrics(summary: Pick<BatchSummary, 'counts' | 'exceeded'>): void {
  for (const [status, count] of Object.entries(summary.counts)) {
    metrics
      .singleMetric()
      .addDimension(statusDimension, status)
      .addMetric('BatchFiles', MetricUnit.Count, count ?? 0);
  }
  metrics.addMetric('BatchExceeded', MetricUnit.Count, summary.exceeded ? 1 : 0);
  metrics.publishStoredMetrics();
}

/**
 * Emits one `InputErrors` by `function_name`: an invocation that threw because of the file. The
 * Errors alarm subtracts these from Lambda's `Errors`, so a bad file, which the ASL quarantines,
 * does not page anyone.
 *
 * Publishes at once, before the handler's error reaches the runtime: nothing would flush a
 * buffer after it.
 */
export function publishInputError(functionName: string): void {
  metrics
    .singleMetric()
    .addDimension(INPUT_ERRORS_METRIC.functionDimension, functionName)
    .addMetric(INPUT_ERRORS_METRIC.metricName, MetricUnit.Count, 1);
}
