import {
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { TransientError } from '#commons/errors.ts';

/** Rounds of PutRecords before the failed entries are left to the ASL's Retry. */
const ROUNDS = 4;

/**
 * Puts every entry on the stream. Kinesis may refuse some entries of a call inside an HTTP 200
 * (`FailedRecordCount`); only those are sent again, since the others are on the stream already
 * and a second copy would be a duplicate for every reader.
 * @throws TransientError when entries are still refused after the last round
 */
export async function putAllRecords(
  client: KinesisClient,
  streamName: string,
  entries: readonly PutRecordsRequestEntry[],
): Promise<void> {
  let pending = [...entries];
  for (let round = 1; ; round++) {
    const response = await client.send(
      new PutRecordsCommand({ StreamName: streamName, Records: pending }),
    );
    if (!response.FailedRecordCount) return;
    const results = response.Records ?? [];
    const failed = pending.filter((_, index) => results[index]?.ErrorCode);
    if (round === ROUNDS) {
      const codes = [...new Set(results.flatMap((r) => (r.ErrorCode ? [r.ErrorCode] : [])))];
      throw new TransientError(
        `Kinesis refused ${failed.length} of ${entries.length} record(s) after ${ROUNDS} rounds: ${codes.join(', ')}`,
      );
    }
    pending = failed;
    await new Promise((wake) => setTimeout(wake, 50 * 2 ** round * Math.random()));
  }
}
