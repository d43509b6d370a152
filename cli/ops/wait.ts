import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { recordedError } from '#commons/outcome.ts';
import type { RecordedError } from '#commons/types.ts';
import { pause } from './command.ts';
import type { OpsTarget } from './target.ts';
import { POLL_INTERVAL_MS } from './watch.ts';

/** How an execution closed, or RUNNING when the wait was cut short. */
export interface ClosedExecution {
  readonly status: string;
  readonly error: RecordedError | null;
  readonly redriveCount: number;
}

/**
 * Polls DescribeExecution until every execution has closed, or `signal` aborts (Ctrl-C): the
 * executions go on either way, this only stops watching them.
 */
export async function waitUntilClosed(
  target: OpsTarget,
  executionArns: readonly string[],
  signal: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<Map<string, ClosedExecution>> {
  const closed = new Map<string, ClosedExecution>();
  let open = [...executionArns];
  while (open.length > 0) {
    const still: string[] = [];
    for (const executionArn of open) {
      const described = await target.sfn.send(new DescribeExecutionCommand({ executionArn }));
      const status = described.status ?? 'RUNNING';
      const error =
        described.error || described.cause
          ? recordedError({ Error: described.error ?? 'Error', Cause: described.cause })
          : null;
      const execution = { status, error, redriveCount: described.redriveCount ?? 0 };
      if (status === 'RUNNING') still.push(executionArn);
      closed.set(executionArn, execution);
    }
    open = still;
    onProgress?.(executionArns.length - open.length, executionArns.length);
    if (open.length === 0 || signal.aborted) break;
    await pause(POLL_INTERVAL_MS, signal);
  }
  return closed;
}
