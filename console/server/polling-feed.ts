import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  type ExecutionListItem,
  ExecutionStatus,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import {
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListQueuesCommand,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import { firstLine } from '../../cli/ops/errors.ts';
import type { OpsTarget } from '../../cli/ops/target.ts';
import type { ConsoleFeed, ExecutionChange, UploadPath } from './console-server.ts';

/** How often the feed reads Step Functions and SQS again. */
export const POLL_INTERVAL_MS = 2_000;

/**
 * How far before the newest start it has seen each poll lists executions again. ListExecutions
 * is eventually consistent on AWS: an execution may show up after a newer one already did.
 */
const RELIST_MS = 10_000;

/** ListExecutions' largest page. */
const PAGE_SIZE = 1_000;

export interface PollingFeedOptions {
  /**
   * Milliseconds between the end of one poll and the start of the next.
   * @default POLL_INTERVAL_MS (2 s)
   */
  readonly intervalMs?: number;
  /**
   * Where a failed poll is told, once per kind of error (a throttle, expired credentials).
   * @default - a line on stderr
   */
  readonly log?: (line: string) => void;
}

/** One execution as the feed last told it. */
interface Seen {
  readonly status: string;
  readonly redriveCount: number;
  readonly startDate: number;
  /** Read once, with DescribeExecution, the first time the execution is told. */
  readonly input: string;
}

/** What ListExecutions and DescribeExecution both say of an execution. */
interface Listed {
  readonly executionArn: string;
  readonly status: string;
  readonly redriveCount: number;
  readonly startDate: number;
  readonly input?: string;
}

function listed(item: ExecutionListItem | DescribeExecutionOutput): Listed | null {
  if (!item.executionArn || !item.status || !item.startDate) return null;
  return {
    executionArn: item.executionArn,
    status: item.status,
    redriveCount: item.redriveCount ?? 0,
    startDate: item.startDate.getTime(),
    ...('input' in item && item.input !== undefined ? { input: item.input } : {}),
  };
}

const isAbort = (error: unknown) => (error as Error | undefined)?.name === 'AbortError';

/** A count from GetQueueAttributes, which gives every attribute as a string. */
const count = (value: string | undefined) => (value === undefined ? null : Number(value));

/**
 * A console feed over the public Step Functions and SQS APIs only, so the console works the same
 * against a deployed stack and against any running `sluice up`: it polls where the local feed is
 * told.
 *
 * Each poll lists ProcessFile's RUNNING executions, and its executions newest first down to a
 * little before the newest start already seen, so one that started and closed between two polls
 * is found without listing the whole history. An execution that was running and is in neither
 * list closed since: DescribeExecution says how. Each execution is told once per status (and
 * again when redriven).
 *
 * The upload path is counts only (GetQueueAttributes): listing the events would mean receiving
 * them, which changes their receive counts and hides them from the start function for the
 * visibility timeout.
 *
 * Polling runs while at least one watcher is subscribed, and stops with the last one; a failed
 * poll is logged once per kind of error and tried again at the next.
 */
export class PollingFeed implements ConsoleFeed {
  private readonly intervalMs: number;
  private readonly log: (line: string) => void;
  private readonly watchers = new Set<(change: ExecutionChange) => void>();
  /** Executions told so far that are still running, or started at `since` or later. */
  private readonly known = new Map<string, Seen>();
  /** Executions that started before this were told (or predate the feed) and are not relisted. */
  private since = Date.now() - RELIST_MS;
  /** The upload queue's URL once found; null when the dead-letter queue serves none. */
  private uploadQueue: string | null | undefined;
  private path: UploadPath = {
    waiting: [],
    deadLetters: [],
    counts: { waiting: null, inFlight: null, deadLetters: null },
  };
  private readonly logged = new Set<string>();
  private polling: Promise<void> | undefined;
  /** Aborts the calls of the polls in flight when the last watcher leaves. */
  private aborter = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** Which start the timer belongs to, so a poll still in flight after a stop schedules nothing. */
  private generation = 0;

  constructor(
    private readonly target: OpsTarget,
    options: PollingFeedOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? POLL_INTERVAL_MS;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Starts polling (the first poll at once) with the first watcher; stops with the last. */
  watchExecutions(watcher: (change: ExecutionChange) => void): () => void {
    this.watchers.add(watcher);
    if (this.watchers.size === 1) this.start();
    return () => {
      if (this.watchers.delete(watcher) && this.watchers.size === 0) this.stop();
    };
  }

  /** The counts the last poll read; null counts until a poll has read them. */
  uploadPath(): UploadPath {
    return this.path;
  }

  /**
   * Reads executions and queues once, now, and tells the watchers what changed; joins the poll
   * in flight if there is one. Never rejects: failures are logged.
   */
  poll(): Promise<void> {
    this.polling ??= Promise.all([this.pollExecutions(), this.pollQueues()]).then(
      () => {
        this.polling = undefined;
      },
      () => {
        this.polling = undefined;
      },
    );
    return this.polling;
  }

  private start(): void {
    const generation = ++this.generation;
    const tick = async () => {
      await this.poll();
      if (generation !== this.generation || this.watchers.size === 0) return;
      this.timer = setTimeout(tick, this.intervalMs);
      // The console's server keeps the process up; a feed alone never does.
      this.timer.unref();
    };
    void tick();
  }

  private stop(): void {
    this.generation++;
    clearTimeout(this.timer);
    this.aborter.abort();
    this.aborter = new AbortController();
  }

  private async pollExecutions(): Promise<void> {
    const stateMachineArn = this.target.names.stateMachines.ProcessFile;
    if (!stateMachineArn) return;
    const abortSignal = this.aborter.signal;
    try {
      const since = this.since;
      const running = await this.list(stateMachineArn, ExecutionStatus.RUNNING, abortSignal);
      const recent = await this.list(stateMachineArn, undefined, abortSignal, since);
      const now = new Map<string, Listed>();
      // The unfiltered list was read last, so it has the later status.
      for (const item of [...running, ...recent]) now.set(item.executionArn, item);
      for (const [executionArn, seen] of this.known) {
        if (seen.status !== ExecutionStatus.RUNNING || now.has(executionArn)) continue;
        // It was running, and it is in neither list: it closed, and started before `since`.
        const described = await this.describe(executionArn, abortSignal);
        if (described) now.set(executionArn, described);
        else this.known.delete(executionArn);
      }
      const changed = [...now.values()]
        .filter((item) => {
          const seen = this.known.get(item.executionArn);
          return !seen || seen.status !== item.status || seen.redriveCount !== item.redriveCount;
        })
        .sort((a, b) => a.startDate - b.startDate);
      for (const item of changed) {
        let input = item.input ?? this.known.get(item.executionArn)?.input;
        if (input === undefined) {
          const described = await this.describe(item.executionArn, abortSignal);
          if (!described) continue;
          input = described.input ?? '{}';
        }
        this.known.set(item.executionArn, { ...item, input });
        if (abortSignal.aborted) return;
        const change: ExecutionChange = {
          executionArn: item.executionArn,
          stateMachineArn,
          status: item.status,
          input,
          startDate: item.startDate,
        };
        for (const watcher of this.watchers) watcher(change);
      }
      const newest = recent.reduce((at, item) => Math.max(at, item.startDate), since + RELIST_MS);
      this.since = newest - RELIST_MS;
      for (const [executionArn, seen] of this.known) {
        if (seen.status !== ExecutionStatus.RUNNING && seen.startDate < this.since) {
          this.known.delete(executionArn);
        }
      }
    } catch (error) {
      this.report('reading the executions', error);
    }
  }

  /**
   * One state machine's executions, newest first: all of them with `status`, or else those that
   * started at `since` or later, paging only as far as that.
   */
  private async list(
    stateMachineArn: string,
    status: ExecutionStatus | undefined,
    abortSignal: AbortSignal,
    since = Number.NEGATIVE_INFINITY,
  ): Promise<Listed[]> {
    const items: Listed[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.target.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn,
          maxResults: PAGE_SIZE,
          nextToken,
          ...(status ? { statusFilter: status } : {}),
        }),
        { abortSignal },
      );
      for (const execution of page.executions ?? []) {
        const item = listed(execution);
        if (!item) continue;
        if (item.startDate < since) return items;
        items.push(item);
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return items;
  }

  /** The execution as DescribeExecution tells it; null once it no longer exists. */
  private async describe(executionArn: string, abortSignal: AbortSignal): Promise<Listed | null> {
    try {
      return listed(
        await this.target.sfn.send(new DescribeExecutionCommand({ executionArn }), {
          abortSignal,
        }),
      );
    } catch (error) {
      // Past Step Functions' retention of closed executions.
      if ((error as Error).name === 'ExecutionDoesNotExist') return null;
      throw error;
    }
  }

  private async pollQueues(): Promise<void> {
    const deadLetters = this.target.names.deadLetterQueue;
    const abortSignal = this.aborter.signal;
    if (this.uploadQueue === undefined) {
      try {
        this.uploadQueue = deadLetters
          ? await this.findUploadQueue(deadLetters, abortSignal)
          : null;
      } catch (error) {
        // Looked for again at the next poll; the dead letters are counted meanwhile.
        this.report('finding the upload queue', error);
      }
    }
    try {
      const attributes: QueueAttributeName[] = [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
      ];
      const [queue, dead] = await Promise.all(
        [this.uploadQueue, deadLetters].map(async (url) =>
          url ? await this.attributes(url, attributes, abortSignal) : {},
        ),
      );
      this.path = {
        waiting: [],
        deadLetters: [],
        counts: {
          waiting: count(queue?.ApproximateNumberOfMessages),
          inFlight: count(queue?.ApproximateNumberOfMessagesNotVisible),
          deadLetters: count(dead?.ApproximateNumberOfMessages),
        },
      };
    } catch (error) {
      this.report('reading the upload queues', error);
    }
  }

  private async attributes(
    queueUrl: string,
    names: QueueAttributeName[],
    abortSignal: AbortSignal,
  ): Promise<Partial<Record<string, string>>> {
    const { Attributes = {} } = await this.target.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: names }),
      { abortSignal },
    );
    return Attributes;
  }

  /**
   * The queue whose dead-letter queue the stack names: a deployed stack outputs only the latter.
   * ListDeadLetterSourceQueues says it on AWS; a service without that call (the local SQS API)
   * is asked which of its queues has a redrive policy that targets the dead-letter queue.
   */
  private async findUploadQueue(
    deadLetters: string,
    abortSignal: AbortSignal,
  ): Promise<string | null> {
    try {
      const { queueUrls = [] } = await this.target.sqs.send(
        new ListDeadLetterSourceQueuesCommand({ QueueUrl: deadLetters }),
        { abortSignal },
      );
      return queueUrls[0] ?? null;
    } catch (error) {
      if ((error as Error).name !== 'UnknownOperationException') throw error;
    }
    const { QueueArn } = await this.attributes(deadLetters, ['QueueArn'], abortSignal);
    const { QueueUrls = [] } = await this.target.sqs.send(new ListQueuesCommand({}), {
      abortSignal,
    });
    for (const url of QueueUrls) {
      if (url === deadLetters) continue;
      const { RedrivePolicy } = await this.attributes(url, ['RedrivePolicy'], abortSignal);
      if (!RedrivePolicy) continue;
      const policy = JSON.parse(RedrivePolicy) as { deadLetterTargetArn?: string };
      if (QueueArn && policy.deadLetterTargetArn === QueueArn) return url;
    }
    return null;
  }

  /** One line per kind of failure and what failed, so a poll every 2 s does not flood stderr. */
  private report(what: string, error: unknown): void {
    if (isAbort(error)) return;
    const failure = error as Error & { code?: unknown };
    // Node's network errors are all named Error; their code tells them apart.
    const kind = failure.name && failure.name !== 'Error' ? failure.name : String(failure.code);
    if (this.logged.has(`${what}\0${kind}`)) return;
    this.logged.add(`${what}\0${kind}`);
    this.log(
      `sluice console: ${what} failed (${kind}): ${firstLine(failure.message ?? String(error))}; ` +
        `tried again every ${this.intervalMs / 1000} s, and not logged again`,
    );
  }
}
