import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IMetric,
  type IWidget,
  MathExpression,
  Metric,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { FILES_METRIC, INPUT_ERRORS_METRIC, SERVICE_NAME } from '../functions/commons/constants.ts';
import type { ObservabilityProps } from './observability.ts';

export interface SluiceDashboardProps extends ObservabilityProps {
  readonly dashboardName: string;
  /** Every alarm, for the status widget. */
  readonly alarms: readonly Alarm[];
  /** The period of every graph: the alarms' own, so a graph shows what an alarm judged. */
  readonly period: Duration;
  /** Drawn as a line on the duration graph, in percent of each function's timeout. */
  readonly durationAlarmPercent: number;
  /** Drawn as a line on the Firehose freshness graph. */
  readonly freshnessThreshold: Duration;
  /** Drawn as a line on the iterator-age graph. */
  readonly maxIteratorAge: Duration;
}

const FULL = 24;
const HEIGHT = 6;

/**
 * One dashboard, read top to bottom the way a file goes: the alarms' status first, then uploads
 * and their queues, executions, functions, files and the ledger, and the aggregates' delivery.
 */
export class SluiceDashboard extends Construct {
  /** The CloudWatch dashboard. */
  public readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: SluiceDashboardProps) {
    super(scope, id);
    const { period } = props;
    const sum = { period, statistic: 'Sum' };
    const max = { period, statistic: 'Maximum' };
    const fns = props.functions;
    const perFunction = (pick: (fn: (typeof fns)[number]) => IMetric): IMetric[] => fns.map(pick);
    const machines = [
      ['ProcessFile', props.processFile],
      ['ProcessBatch', props.processBatch],
    ] as const;

    const rows: IWidget[][] = [
      [
        new TextWidget({
          width: FULL,
          height: 2,
          markdown:
            '# sluice\nTop to bottom the way a file goes: upload → queue → ProcessFile → functions → ledger → aggregates. ' +
            'What each alarm means and what to do: README.md, *Alarms and what to do*. Every alarm notifies the topic in the stack output `AlarmTopicArn`.',
        }),
      ],
      [
        new AlarmStatusWidget({
          title: 'Alarms',
          width: FULL,
          // Six alarms fit a row of a full-width widget.
          height: Math.max(2, Math.ceil(props.alarms.length / 6) + 1),
          alarms: [...props.alarms],
        }),
      ],
      [section('1. Uploads')],
      [
        graph(
          'Upload queue',
          12,
          [
            props.uploadQueue.metricNumberOfMessagesSent({ ...sum, label: 'arrived' }),
            props.uploadQueue.metricApproximateNumberOfMessagesVisible({
              ...max,
              label: 'waiting',
            }),
            props.uploadQueue.metricApproximateNumberOfMessagesNotVisible({
              ...max,
              label: 'in flight',
            }),
          ],
          {
            right: [
              props.uploadQueue.metricApproximateAgeOfOldestMessage({
                ...max,
                label: 'oldest waiting (s)',
              }),
            ],
          },
        ),
        graph('Dead letters (any is an alarm)', 12, [
          props.uploadDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
            ...max,
            label: 'upload events',
          }),
          props.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
            ...max,
            label: 'scheduled batch starts',
          }),
        ]),
      ],
      [section('2. Executions')],
      [
        ...machines.map(([label, machine]) =>
          graph(`${label} executions`, 8, [
            machine.metricStarted({ ...sum, label: 'started' }),
            machine.metricSucceeded({ ...sum, label: 'succeeded' }),
            machine.metricFailed({ ...sum, label: 'failed' }),
            machine.metricTimedOut({ ...sum, label: 'timed out' }),
            machine.metricAborted({ ...sum, label: 'aborted' }),
            machine.metricThrottled({ ...sum, label: 'throttled' }),
          ]),
        ),
        graph(
          'Execution time, p99 (ms)',
          8,
          machines.map(([label, machine]) =>
            machine.metricTime({ period, statistic: 'p99', label }),
          ),
        ),
      ],
      [section('3. Functions')],
      [
        graph(
          'Invocations',
          6,
          perFunction((fn) => fn.function.metricInvocations({ ...sum, label: fn.definition.id })),
        ),
        graph(
          "Errors, not the file's fault",
          6,
          // Lambda's Errors less the InputErrors of quarantined files: what the Errors alarms judge.
          // Metric ids are shared by the whole graph, so each function's pair gets its own.
          fns.map(
            (fn, i) =>
              new MathExpression({
                expression: `e${i} - FILL(i${i}, 0)`,
                usingMetrics: {
                  [`e${i}`]: fn.function.metricErrors(sum),
                  [`i${i}`]: inputErrorsOf(fn.function, period),
                },
                period,
                label: fn.definition.id,
              }),
          ),
          { threshold: { value: 1, label: 'alarm' } },
        ),
        graph(
          'Input errors (quarantined files)',
          6,
          perFunction((fn) => inputErrorsOf(fn.function, period, fn.definition.id)),
        ),
        graph(
          'Throttles',
          6,
          perFunction((fn) => fn.function.metricThrottles({ ...sum, label: fn.definition.id })),
        ),
      ],
      [
        graph(
          'Duration, p99 (ms)',
          12,
          perFunction((fn) =>
            fn.function.metricDuration({ period, statistic: 'p99', label: fn.definition.id }),
          ),
        ),
        graph(
          'Duration, p99, % of timeout',
          12,
          // Metric ids are shared by the whole graph, so each function's duration gets its own.
          fns.map(
            (fn, i) =>
              new MathExpression({
                expression: `100 * d${i} / ${fn.definition.timeoutSeconds * 1000}`,
                usingMetrics: {
                  [`d${i}`]: fn.function.metricDuration({ period, statistic: 'p99' }),
                },
                period,
                label: fn.definition.id,
              }),
          ),
          { threshold: { value: props.durationAlarmPercent, label: 'alarm' } },
        ),
      ],
      [section('4. Files and the ledger')],
      [
        graph('Files by status per dataset', 12, [
          new MathExpression({
            // Any dimension set: Powertools adds `service` to the dataset and status dimensions.
            expression: `SEARCH('Namespace="${FILES_METRIC.namespace}" MetricName="${FILES_METRIC.metricName}"', 'Sum', ${period.toSeconds()})`,
            period,
          }),
        ]),
        graph('Ledger', 12, [
          props.table.metricConsumedWriteCapacityUnits({ ...sum, label: 'write units' }),
          props.table.metricConsumedReadCapacityUnits({ ...sum, label: 'read units' }),
          props.table.metricConditionalCheckFailedRequests({
            ...sum,
            label: 'refused claims (duplicates)',
          }),
        ]),
      ],
      [section('5. Aggregates delivery')],
      [
        graph('Stream records', 6, [
          props.stream.metricIncomingRecords({ ...sum, label: 'put' }),
          props.stream.metricPutRecordsFailedRecords({ ...sum, label: 'failed puts' }),
        ]),
        graph(
          'Stream iterator age (ms)',
          6,
          [props.stream.metricGetRecordsIteratorAgeMilliseconds({ ...max, label: 'age' })],
          { threshold: { value: props.maxIteratorAge.toMilliseconds(), label: 'alarm' } },
        ),
        graph('Firehose records', 6, [
          firehose(props, 'DataReadFromKinesisStream.Records', { ...sum, label: 'read' }),
          firehose(props, 'DeliveryToS3.Records', { ...sum, label: 'delivered' }),
          firehose(props, 'ThrottledGetRecords', { ...sum, label: 'throttled reads' }),
        ]),
        graph(
          'Firehose freshness (s)',
          6,
          [firehose(props, 'DeliveryToS3.DataFreshness', { ...max, label: 'oldest record' })],
          { threshold: { value: props.freshnessThreshold.toSeconds(), label: 'alarm' } },
        ),
      ],
    ];

    this.dashboard = new Dashboard(this, 'Resource', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
      widgets: rows,
    });
  }
}

/**
 * The `InputErrors` EMF metric that `fileTask` emits for `fn` when the file was at fault. It is
 * found only by its whole dimension set, so this names the `service` that Powertools adds too.
 */
export function inputErrorsOf(fn: IFunction, period: Duration, label?: string): Metric {
  return new Metric({
    namespace: INPUT_ERRORS_METRIC.namespace,
    metricName: INPUT_ERRORS_METRIC.metricName,
    dimensionsMap: {
      [INPUT_ERRORS_METRIC.serviceDimension]: SERVICE_NAME,
      [INPUT_ERRORS_METRIC.functionDimension]: fn.functionName,
    },
    period,
    statistic: 'Sum',
    label,
  });
}

function section(title: string): TextWidget {
  return new TextWidget({ markdown: `## ${title}`, width: FULL, height: 1 });
}

function graph(
  title: string,
  width: number,
  left: IMetric[],
  options: {
    readonly right?: IMetric[];
    /** A horizontal line where the graph's alarm fires. */
    readonly threshold?: { readonly value: number; readonly label: string };
  } = {},
): GraphWidget {
  return new GraphWidget({
    title,
    width,
    height: HEIGHT,
    left,
    right: options.right,
    leftAnnotations: options.threshold === undefined ? undefined : [options.threshold],
  });
}

function firehose(
  props: SluiceDashboardProps,
  metricName: string,
  options: { period: Duration; statistic: string; label: string },
): Metric {
  return props.deliveryStream.metric(metricName, options);
}
