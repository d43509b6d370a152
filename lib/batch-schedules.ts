import { Duration, TimeZone } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
  TimeWindow,
} from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke, StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ProcessBatchInput } from '../functions/commons/batch.ts';
import { INCOMING_PREFIX } from '../functions/commons/constants.ts';
import type { BatchSchedule } from '../functions/commons/schedules.ts';

/**
 * Attempts after the first when StartExecution fails. Scheduler's default is 185 over a day; a
 * batch that could not start in a few tries goes to the dead-letter queue instead.
 */
export const SCHEDULE_RETRY_ATTEMPTS = 2;
/** How late a scheduled start may still happen; a later one goes to the dead-letter queue. */
export const SCHEDULE_MAX_EVENT_AGE = Duration.hours(1);

export interface BatchSchedulesProps {
  /** ProcessBatch, which every schedule starts. */
  readonly stateMachine: IStateMachine;
  /** The declarations, as `readSchedules` returns them (already validated). */
  readonly schedules: readonly BatchSchedule[];
  /**
   * Run every EXPECTATION_CHECK_RATE with `{ time }`, the slot's time, to check the datasets'
   * declared arrival and row counts.
   * @default - no check: no dataset declares expectations
   */
  readonly expectationCheck?: IFunction;
}

/** How often CheckExpectations runs: a late feed is told at most this long after its grace. */
export const EXPECTATION_CHECK_RATE = Duration.minutes(15);

/**
 * One EventBridge Scheduler schedule per declared batch, each starting ProcessBatch with the
 * schedule's prefix and mode in its own time zone, plus the dead-letter queue they share for
 * starts that failed their retries or came too late.
 */
export class BatchSchedules extends Construct {
  /** Starts that failed `SCHEDULE_RETRY_ATTEMPTS` retries or were older than the max age. */
  public readonly deadLetterQueue: Queue;
  /** The schedules, by declared name. */
  public readonly schedules: Readonly<Record<string, Schedule>>;
  /** The expectation check's schedule, when there is one. */
  public readonly expectationCheck?: Schedule;

  constructor(scope: Construct, id: string, props: BatchSchedulesProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const schedules: Record<string, Schedule> = {};
    for (const declared of props.schedules) {
      // ProcessBatch's role may list only under incoming/ (lib/process-batch.ts).
      if (!declared.prefix.startsWith(INCOMING_PREFIX)) {
        throw new Error(
          `Schedule ${declared.name}: prefix '${declared.prefix}' is outside ${INCOMING_PREFIX}, which ProcessBatch may not list`,
        );
      }
      const input: ProcessBatchInput = {
        // Scheduler fills in the slot's time (`2026-12-03T02:00:00Z`), not the attempt's, so
        // every start of one slot, retries included, carries the same batch id.
        batchId: `${declared.name}-${ContextAttribute.scheduledTime}`,
        prefix: declared.prefix,
        mode: declared.mode,
        schedule: declared.name,
        maxConcurrency: declared.maxConcurrency,
      };
      schedules[declared.name] = new Schedule(this, declared.name, {
        description: `ProcessBatch of ${declared.prefix} (${declared.mode}) for dataset ${declared.dataset}`,
        schedule: ScheduleExpression.expression(
          declared.expression,
          TimeZone.of(declared.timeZone),
        ),
        timeWindow:
          declared.flexibleWindowMinutes > 0
            ? TimeWindow.flexible(Duration.minutes(declared.flexibleWindowMinutes))
            : TimeWindow.off(),
        target: new StepFunctionsStartExecution(props.stateMachine, {
          input: ScheduleTargetInput.fromObject(input),
          retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
          maxEventAge: SCHEDULE_MAX_EVENT_AGE,
          deadLetterQueue: this.deadLetterQueue,
        }),
      });
    }
    if (props.expectationCheck) {
      this.expectationCheck = new Schedule(this, 'CheckExpectations', {
        description: "CheckExpectations: each dataset's declared arrival and row counts",
        schedule: ScheduleExpression.rate(EXPECTATION_CHECK_RATE),
        target: new LambdaInvoke(props.expectationCheck, {
          input: ScheduleTargetInput.fromObject({ time: ContextAttribute.scheduledTime }),
          retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
          maxEventAge: SCHEDULE_MAX_EVENT_AGE,
          deadLetterQueue: this.deadLetterQueue,
        }),
      });
    }
    this.schedules = schedules;
  }
}
