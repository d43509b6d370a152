import type { UploadPath } from './api.ts';
import { Section } from './components.tsx';
import { time } from './format.ts';

type QueueCounts = NonNullable<UploadPath['counts']>;

/** A count, or a dash where the queue is not known or not read yet. */
const counted = (value: number | null) => (value === null ? '–' : String(value));

/**
 * The queues by their counts alone: on a deployed stack the events cannot be listed without
 * receiving them, which would change their receive counts and hide them from the start function.
 */
function QueueCountsView({ counts }: { readonly counts: QueueCounts }) {
  return (
    <Section title="Before an execution">
      <p
        class="muted"
        data-queue-counts
        data-waiting={counted(counts.waiting)}
        data-in-flight={counted(counts.inFlight)}
        data-dead-letters={counted(counts.deadLetters)}
      >
        About {counted(counts.waiting)} upload event(s) waiting in the queue,{' '}
        {counted(counts.inFlight)} being started, {counted(counts.deadLetters)} in its dead-letter
        queue. Counts only, from the queues' attributes: reading the events themselves would receive
        them. <code>sluice redrive --dlq</code> moves dead letters back.
      </p>
    </Section>
  );
}

/** Events that have not become an execution: the part the Step Functions console cannot show. */
export function UploadPathView({ path }: { readonly path: UploadPath | null }) {
  if (!path) return null;
  if (path.counts) return <QueueCountsView counts={path.counts} />;
  return (
    <Section title="Before an execution">
      <p class="muted">
        {path.waiting.length} upload event(s) waiting in the queue, {path.deadLetters.length} in its
        dead-letter queue.
      </p>
      {path.waiting.length + path.deadLetters.length > 0 && (
        <table class="path">
          <thead>
            <tr>
              <th>where</th>
              <th>key</th>
              <th>sent</th>
              <th>receives</th>
              <th>reason</th>
            </tr>
          </thead>
          <tbody>
            {path.deadLetters.map((event) => (
              <tr key={event.messageId} data-dead-letter={event.key ?? ''}>
                <td>dead-letter queue</td>
                <td>{event.key ?? '(not an S3 event)'}</td>
                <td>{time(event.sentAt)}</td>
                <td>{event.receiveCount}</td>
                <td class="error">{event.error}</td>
              </tr>
            ))}
            {path.waiting.map((event) => (
              <tr key={event.messageId}>
                <td>queue</td>
                <td>{event.key ?? '(not an S3 event)'}</td>
                <td>{time(event.sentAt)}</td>
                <td>{event.receiveCount}</td>
                <td>{event.receiveCount > 0 ? 'the start function failed; retried' : 'waiting'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
