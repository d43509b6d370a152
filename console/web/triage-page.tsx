import { useEffect, useState } from 'preact/hooks';
import { type FailureGroup, fileUrl, getJson, type UploadPath } from './api.ts';
import { ActionButton, Status } from './components.tsx';
import { time } from './format.ts';
import { useDebounced, useLive } from './live.ts';
import { UploadPathView } from './upload-path.tsx';

const REDRIVABLE = new Set(['FAILED', 'ABORTED', 'TIMED_OUT']);

/** Failures grouped by error and message pattern, each group replayed or redriven at once. */
export function TriagePage() {
  const [groups, setGroups] = useState<readonly FailureGroup[] | null>(null);
  const [path, setPath] = useState<UploadPath | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    getJson<{ groups: FailureGroup[] }>('/api/triage').then(
      (answer) => {
        setGroups(answer.groups);
        setError(null);
      },
      (failure: Error) => setError(failure.message),
    );
  useEffect(() => {
    load();
    getJson<UploadPath>('/api/path').then(setPath, () => {});
  }, []);
  const reload = useDebounced(load, 150);
  useLive({ files: reload, path: setPath });
  return (
    <main>
      <div class="toolbar">
        <h1>Failures</h1>
        <span class="muted">
          {groups
            ? `${groups.reduce((n, g) => n + g.files.length, 0)} file(s) in ${groups.length} group(s)`
            : '…'}
        </span>
      </div>
      {error && <p class="error">{error}</p>}
      {groups?.length === 0 && (
        <p class="muted">No failed or quarantined file. A fixed file leaves this view.</p>
      )}
      {groups?.map((group) => {
        const redrivable = group.files.filter((file) => REDRIVABLE.has(file.status));
        return (
          <section
            class="group"
            key={`${group.errorName}\0${group.pattern}`}
            data-group={group.errorName}
          >
            <h2>
              {group.errorName} <span class="count">{group.files.length}</span>
            </h2>
            <p>
              <code>{group.pattern || '(no message)'}</code>
            </p>
            <p class="muted">
              {group.statuses.join(', ')} · datasets {group.datasets.join(', ')}
            </p>
            <div class="actions">
              <ActionButton
                label="Replay"
                path="/api/replay"
                body={{ keys: group.files.map((file) => file.key) }}
                onDone={reload}
              />
              {redrivable.length > 0 && (
                <ActionButton
                  label="Redrive"
                  path="/api/redrive"
                  body={{ executionArns: redrivable.map((file) => file.executionArn) }}
                  onDone={reload}
                />
              )}
            </div>
            <table>
              <tbody>
                {group.files.map((file) => (
                  <tr key={file.executionArn} data-key={file.key}>
                    <td>
                      <a href={fileUrl(file.key)}>{file.key}</a>
                    </td>
                    <td>
                      <Status status={file.status} />
                    </td>
                    <td>{time(file.stopDate)}</td>
                    <td class="muted">{file.error?.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        );
      })}
      <UploadPathView path={path} />
    </main>
  );
}
