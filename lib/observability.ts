import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { CfnDeliveryStream, type IDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { FunctionDefinition } from '../functions/registry.ts';
import { SCHEDULE_MAX_EVENT_AGE, SCHEDULE_RETRY_ATTEMPTS } from './batch-schedules.ts';
import { inputErrorsOf, SluiceDashboard } from './sluice-dashboard.ts';

/** Every alarm judges one period of this length, the finest that Step Functions and SQS share. */
export const ALARM_PERIOD = Duration.minutes(5);
/** A function's p99 duration alarms at this share of its registry timeout. */
export const DURATION_ALARM_SHARE = 0.8;
/** Firehose freshness alarms above this many buffering intervals. */
export const FRESHNESS_ALARM_INTERVALS = 2;
/** Firehose's own buffering interval when a destination names none. */
const FIREHOSE_DEFAULT_BUFFERING_INTERVAL = Duration.seconds(300);
/** Where the README explains each alarm; every description ends by pointing there. */
const RUNBOOK = "Runbook: README.md, 'Alarms and what to do'.";

/** A deployed function and the registry entry it was built from (a SluiceFunction is one). */
export interface ObservedFunction {
  readonly function: IFunction;
  readonly definition: Pick<FunctionDefinition, 'id' | 'timeoutSeconds'>;
}

export interface ObservabilityProps {
  /** ProcessFile, which every upload and every batch item runs. */
  readonly processFile: IStateMachine;
  /** ProcessBatch, started by hand (`sluice batch`) and by the schedules. */
  readonly processBatch: IStateMachine;
  /** Every deployed function; each gets its own alarms, so none can ship unwatched. */
  readonly functions: readonly ObservedFunction[];
  /** The queue uploads wait in for the start function (graphed, not alarmed: depth is normal). */
  readonly uploadQueue: IQueue;
  /** Upload events the start function failed on `maxReceiveCount` times. */
  readonly uploadDeadLetterQueue: IQueue;
  /** Scheduled batch starts that failed their retries or came too late. */
  readonly scheduleDeadLetterQueue: IQueue;
  /** The aggregate stream Firehose reads. */
  readonly stream: IStream;
  /** The Firehose delivery stream writing the aggregates to S3. */
  readonly deliveryStream: IDeliveryStream;
  /** The run ledger (graphed: its capacity and the duplicate claims it refused). */
  readonly table: ITableV2;
  /**
   * The HTTP API, whose server errors alarm.
   * @default - no API alarm
   */
  readonly api?: IHttpApi;

  /**
   * The delivery stream's buffering interval; the freshness alarm's threshold is
   * `FRESHNESS_ALARM_INTERVALS` of them.
   * @default - read from the delivery stream's S3 destination (Firehose's 300 s if it names none);
   * a delivery stream this stack did not define must be given it
   */
  readonly deliveryBufferingInterval?: Duration;

  /**
   * The oldest a record may be when Firehose reads it off the stream before the iterator-age
   * alarm fires.
   * @default Duration.minutes(5)
   */
  readonly maxIteratorAge?: Duration;

  /**
   * The dashboard's name. Dashboard names are unique per account, across regions.
   * @default - the stack name in lower case: `sluice` for the Sluice stack
   */
  readonly dashboardName?: string;
}

/**
 * The stack's alarms, the SNS topic they all notify, and the `sluice` dashboard. Every alarm is
 * made here, by one helper per kind of resource, so the list of what is watched is in one place:
 * 3 per state machine, 3 per function, 1 per dead-letter queue, 1 each for the stream and the
 * delivery stream. Each sends to the topic when it fires and when it clears.
 */
export class Observability extends Construct {
  /** The topic every alarm publishes to: TLS-only, encrypted with `key`. */
  public readonly topic: Topic;
  /** The customer-managed key encrypting the topic; CloudWatch may use it to publish. */
  public readonly key: Key;
  /** Every alarm, in the order the dashboard's status widget lists them. */
  public readonly alarms: readonly Alarm[];
  /** The dashboard: alarm status, then the flow from upload to delivered aggregates. */
  public readonly dashboard: SluiceDashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const maxIteratorAge = props.maxIteratorAge ?? Duration.minutes(5);
    if (!maxIteratorAge.isUnresolved() && maxIteratorAge.toMilliseconds() <= 0) {
      throw new Error(`maxIteratorAge must be positive, got ${maxIteratorAge.toHumanString()}`);
    }
    const bufferingInterval =
      props.deliveryBufferingInterval ?? bufferingIntervalOf(props.deliveryStream);
    if (bufferingInterval === undefined) {
      throw new Error(
        `deliveryBufferingInterval is needed: delivery stream ${props.deliveryStream.node.path} was not defined in this app, so its buffering interval can't be read`,
      );
    }
    const ids = props.functions.map((fn) => fn.definition.id);
    const twice = ids.filter((fid, i) => ids.indexOf(fid) !== i);
    if (twice.length > 0) {
      throw new Error(`Each function may be watched once, got ${twice.join(', ')} twice`);
    }

    this.key = new Key(this, 'TopicKey', {
      description: `${stack.stackName} alarm notifications (SNS server-side encryption)`,
      enableKeyRotation: true,
      // It only protects notifications in flight; nothing needs it once the topic is gone.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // CloudWatch publishes as its service principal, which must be able to encrypt for the topic:
    // AWS's key policy for alarms on an SSE topic.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      displayName: `${stack.stackName} alarms`,
      masterKey: this.key,
      enforceSSL: true,
    });
    // enforceSSL gives the topic a policy of its own, replacing SNS's default one; this lets this
    // account's alarms publish, and no other account's (confused deputy).
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowThisAccountsAlarmsToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );

    const alarms = new AlarmFactory(this, stack.stackName);
    stateMachineAlarms(alarms, 'ProcessFile', props.processFile, {
      failed: `a file's execution failed: its ledger item is not final. \`sluice executions --status FAILED,TIMED_OUT --stack ${stack.stackName}\` lists them, \`sluice show <key> --stack ${stack.stackName}\` shows the failed state and its error. Once the cause is fixed, \`sluice redrive --status FAILED --stack ${stack.stackName}\`.`,
      timedOut: `a file's execution ran past the machine's TimeoutSeconds. \`sluice executions --status TIMED_OUT --stack ${stack.stackName}\`, then \`sluice show <key> --stack ${stack.stackName}\` for the state that hung; \`sluice redrive --status TIMED_OUT --stack ${stack.stackName}\` once fixed.`,
    });
    stateMachineAlarms(alarms, 'ProcessBatch', props.processBatch, {
      failed: `a batch failed: more than its tolerated share of files did not reach a final status, or the listing or summary failed. batches/<id>.json has the counts; \`sluice executions --status FAILED --stack ${stack.stackName}\` lists the files. Rerun with \`sluice batch <prefix> --stack ${stack.stackName}\`: it processes only versions with no final status.`,
      timedOut: `a batch ran past a day. Find it in the Step Functions console and its Map Run; rerun with \`sluice batch <prefix> --stack ${stack.stackName}\`, perhaps with a lower --max-concurrency if its children were throttled.`,
    });
    for (const fn of props.functions) functionAlarms(alarms, fn, stack.stackName);
    deadLetterAlarm(
      alarms,
      'UploadDeadLetters',
      props.uploadDeadLetterQueue,
      `upload events the start function failed on every time SQS delivered them: these files have no execution. Read one (\`aws sqs receive-message\`) and the StartExecution function's logs; once fixed, \`sluice redrive --dlq --stack ${stack.stackName}\` moves them back. Files past the queue's 14-day retention can be caught up with \`sluice batch <prefix> --stack ${stack.stackName}\`.`,
    );
    deadLetterAlarm(
      alarms,
      'ScheduleDeadLetters',
      props.scheduleDeadLetterQueue,
      `a scheduled batch did not start (StartExecution failed ${SCHEDULE_RETRY_ATTEMPTS + 1} tries, or the start was over ${SCHEDULE_MAX_EVENT_AGE.toHumanString()} late). The message names the schedule and prefix; run it by hand with \`sluice batch <prefix> --stack ${stack.stackName}\`, then delete the message.`,
    );
    deliveryAlarms(alarms, props.stream, props.deliveryStream, {
      bufferingInterval,
      maxIteratorAge,
    });
    if (props.api) {
      alarms.forResource('Api')({
        id: 'ServerErrors',
        metric: props.api.metricServerError({ period: ALARM_PERIOD, statistic: 'Sum' }),
        threshold: 1,
        comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // API Gateway publishes 5XX only for periods with requests: none asked, none failed.
        treatMissingData: TreatMissingData.NOT_BREACHING,
        description: `the HTTP API answered 5XX: partners could not upload or read statuses. The stage's access log has each request's integrationError and authorizerError; the HttpApi function's log group has the error (its own Errors alarm fires too when it threw). A 4XX is the caller's and does not alarm.`,
      });
    }
    this.alarms = alarms.created;

    const action = new SnsAction(this.topic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(action);
      // Without the OK notice, subscribers never learn that it cleared.
      alarm.addOkAction(action);
    }

    const dashboardName = props.dashboardName ?? stack.stackName.toLowerCase();
    if (!Token.isUnresolved(dashboardName) && !/^[A-Za-z0-9_-]{1,255}$/.test(dashboardName)) {
      throw new Error(
        `dashboardName must be 1–255 letters, digits, '-' or '_', got '${dashboardName}'`,
      );
    }
    this.dashboard = new SluiceDashboard(this, 'Dashboard', {
      ...props,
      dashboardName,
      alarms: this.alarms,
      period: ALARM_PERIOD,
      durationAlarmPercent: DURATION_ALARM_SHARE * 100,
      freshnessThreshold: freshnessThreshold(bufferingInterval),
      maxIteratorAge,
    });
  }
}

interface AlarmSpec {
  /** Construct id and the alarm name's last part. */
  readonly id: string;
  readonly metric: IMetric;
  readonly threshold: number;
  readonly comparison: ComparisonOperator;
  /** Chosen per alarm: what a period with no datapoint means for what it watches. */
  readonly treatMissingData: TreatMissingData;
  /** What it means and what to do, the stack's name filled in. */
  readonly description: string;
}

/** Makes alarms named `<stack>-<resource>-<id>`, remembering each for the actions and dashboard. */
class AlarmFactory {
  public readonly created: Alarm[] = [];
  private readonly scope: Construct;
  private readonly stackName: string;

  constructor(scope: Construct, stackName: string) {
    this.scope = scope;
    this.stackName = stackName;
  }

  /** The alarms of one resource, under a construct named after it. */
  forResource(label: string): (spec: AlarmSpec) => Alarm {
    const scope = new Construct(this.scope, label);
    return (spec) => {
      const alarm = new Alarm(scope, spec.id, {
        alarmName: `${this.stackName}-${label}-${spec.id}`,
        alarmDescription: `${label}: ${spec.description} ${RUNBOOK}`,
        metric: spec.metric,
        threshold: spec.threshold,
        comparisonOperator: spec.comparison,
        // Every threshold is already "something went wrong in this period": one period is enough.
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: spec.treatMissingData,
      });
      this.created.push(alarm);
      return alarm;
    };
  }
}

/** ExecutionsFailed, ExecutionsTimedOut and ExecutionThrottled, each at one in a period. */
function stateMachineAlarms(
  alarms: AlarmFactory,
  label: string,
  machine: IStateMachine,
  what: { readonly failed: string; readonly timedOut: string },
): void {
  const alarm = alarms.forResource(label);
  const period = { period: ALARM_PERIOD, statistic: 'Sum' };
  // Step Functions publishes these only for periods with executions: none means none failed.
  const missing = TreatMissingData.NOT_BREACHING;
  const atLeastOne = ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
  alarm({
    id: 'ExecutionsFailed',
    metric: machine.metricFailed(period),
    threshold: 1,
    comparison: atLeastOne,
    treatMissingData: missing,
    description: what.failed,
  });
  alarm({
    id: 'ExecutionsTimedOut',
    metric: machine.metricTimedOut(period),
    threshold: 1,
    comparison: atLeastOne,
    treatMissingData: missing,
    description: what.timedOut,
  });
  alarm({
    id: 'ExecutionThrottled',
    metric: machine.metricThrottled(period),
    threshold: 1,
    comparison: atLeastOne,
    treatMissingData: missing,
    description:
      'Step Functions throttled StartExecution or state transitions. Starts are retried (SQS redelivers uploads, Scheduler retries batches), so check the DLQ alarms; if it persists, lower the batch MaxConcurrency or ask for a higher Step Functions quota.',
  });
}

/**
 * Errors that were not the file's fault, and Throttles, at one in a period; p99 Duration at 80%
 * of the registry timeout.
 */
function functionAlarms(alarms: AlarmFactory, observed: ObservedFunction, stackName: string): void {
  const { id, timeoutSeconds } = observed.definition;
  const fn = observed.function;
  const alarm = alarms.forResource(id);
  // Lambda publishes nothing for a period with no invocations: nothing ran, nothing failed.
  const missing = TreatMissingData.NOT_BREACHING;
  alarm({
    id: 'Errors',
    metric: errorsNotTheFilesFault(fn),
    threshold: 1,
    comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: missing,
    description: `the function threw, and not because of the file: a bad CSV or image throws an InputError, is QUARANTINED and is left out of this alarm. What is left is a transient fault (throttling, 5xx; the ASL retries it), a bad schema or variants file (ConfigurationError; its files are QUARANTINED too) or a bug. \`sluice executions --status FAILED,QUARANTINED --since 1h --stack ${stackName}\`, then \`sluice show <key> --stack ${stackName}\` for the error and log lines; the function's log group has the stack trace. Once fixed, \`sluice replay <key> --stack ${stackName}\` for a quarantined file, \`sluice redrive --status FAILED --stack ${stackName}\` for failed ones.`,
  });
  alarm({
    id: 'Throttles',
    metric: fn.metricThrottles({ period: ALARM_PERIOD, statistic: 'Sum' }),
    threshold: 1,
    comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: missing,
    description:
      "Lambda refused invocations: the account's or the function's concurrency ran out. The ASL retries Lambda.TooManyRequestsException with backoff and SQS redelivers to the start function, so watch the ExecutionsFailed and dead-letter alarms; if it persists, raise the account's concurrency quota or lower the ASL and batch MaxConcurrency.",
  });
  const thresholdMs = Math.round(timeoutSeconds * 1000 * DURATION_ALARM_SHARE);
  alarm({
    id: 'DurationP99',
    metric: fn.metricDuration({ period: ALARM_PERIOD, statistic: 'p99' }),
    threshold: thresholdMs,
    comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: missing,
    description: `p99 duration reached ${DURATION_ALARM_SHARE * 100}% of the ${timeoutSeconds} s timeout (${thresholdMs} ms): the next larger file may time out. Find the slow files in the function's logs (or X-Ray); raise memorySize or timeoutSeconds in functions/registry.ts, keeping the ASL Task's TimeoutSeconds above it.`,
  });
}

/** ApproximateNumberOfMessagesVisible above 0: any dead letter is a file or batch left behind. */
function deadLetterAlarm(
  alarms: AlarmFactory,
  label: string,
  queue: IQueue,
  description: string,
): void {
  alarms.forResource(label)({
    id: 'MessagesVisible',
    metric: queue.metricApproximateNumberOfMessagesVisible({
      period: ALARM_PERIOD,
      statistic: 'Maximum',
    }),
    threshold: 0,
    comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
    // SQS stops publishing for a queue left empty and untouched for six hours; a queue holding
    // messages is active and keeps publishing, so no data means no dead letters.
    treatMissingData: TreatMissingData.NOT_BREACHING,
    description,
  });
}

/** Firehose's DataFreshness and the stream's iterator age: aggregates that are not arriving. */
function deliveryAlarms(
  alarms: AlarmFactory,
  stream: IStream,
  deliveryStream: IDeliveryStream,
  limits: { readonly bufferingInterval: Duration; readonly maxIteratorAge: Duration },
): void {
  const freshness = freshnessThreshold(limits.bufferingInterval);
  alarms.forResource('AggregatesDelivery')({
    id: 'DataFreshness',
    metric: deliveryStream.metric('DeliveryToS3.DataFreshness', {
      period: ALARM_PERIOD,
      statistic: 'Maximum',
    }),
    threshold: freshness.toSeconds(),
    comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
    // Firehose reports freshness while it holds records to deliver; none held, none late.
    treatMissingData: TreatMissingData.NOT_BREACHING,
    description: `the oldest aggregate record in Firehose is over ${freshness.toSeconds()} s old (${FRESHNESS_ALARM_INTERVALS}× the ${limits.bufferingInterval.toSeconds()} s buffer): delivery to S3 is failing or behind. Read the delivery stream's error logs and its DeliveryToS3.Success on the dashboard (often the bucket's policy or encryption); Firehose retries for 24 h, then drops the records from aggregates/ (the ledger still has every file).`,
  });
  alarms.forResource('AggregatesStream')({
    id: 'IteratorAge',
    metric: stream.metricGetRecordsIteratorAgeMilliseconds({
      period: ALARM_PERIOD,
      statistic: 'Maximum',
    }),
    threshold: limits.maxIteratorAge.toMilliseconds(),
    comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
    // The age exists only for periods in which something read the stream; a reader that stopped
    // altogether shows as no data, which this alarm cannot tell from an idle stream.
    treatMissingData: TreatMissingData.NOT_BREACHING,
    description: `Firehose is reading records over ${limits.maxIteratorAge.toHumanString()} old: it is falling behind the stream, and records older than the stream's 24 h retention will be lost from aggregates/. Check the delivery stream's ThrottledGetRecords and DataFreshness; add shards to the stream (AggregatesDelivery shardCount) if reads are throttled.`,
  });
}

/**
 * Lambda's `Errors` minus the function's `InputErrors` (see `fileTask`): the invocations that
 * threw for a reason other than the file. A period without a bad file has no `InputErrors`
 * datapoint (and a function that never throws an `InputError` has none at all): `FILL` counts it
 * as 0, where a plain difference would be blank and the alarm would never see the errors.
 */
function errorsNotTheFilesFault(fn: IFunction): MathExpression {
  return new MathExpression({
    expression: 'errors - FILL(inputErrors, 0)',
    usingMetrics: {
      errors: fn.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
      inputErrors: inputErrorsOf(fn, ALARM_PERIOD),
    },
    period: ALARM_PERIOD,
    label: "errors that were not the file's fault",
  });
}

function freshnessThreshold(bufferingInterval: Duration): Duration {
  return Duration.seconds(bufferingInterval.toSeconds() * FRESHNESS_ALARM_INTERVALS);
}

/**
 * The buffering interval of a delivery stream defined in this app, read off its CloudFormation
 * resource: AggregatesDelivery keeps it private, and a copy here could drift from it.
 */
export function bufferingIntervalOf(deliveryStream: IDeliveryStream): Duration | undefined {
  const resource = deliveryStream.node.defaultChild;
  if (!(resource instanceof CfnDeliveryStream)) return undefined;
  const destination = resource.extendedS3DestinationConfiguration;
  if (destination === undefined || Token.isUnresolved(destination)) return undefined;
  const hints = (destination as CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty)
    .bufferingHints;
  if (hints === undefined) return FIREHOSE_DEFAULT_BUFFERING_INTERVAL;
  if (Token.isUnresolved(hints)) return undefined;
  const seconds = (hints as CfnDeliveryStream.BufferingHintsProperty).intervalInSeconds;
  if (seconds === undefined) return FIREHOSE_DEFAULT_BUFFERING_INTERVAL;
  return Token.isUnresolved(seconds) ? undefined : Duration.seconds(seconds);
}
