import { useEffect, useState } from 'preact/hooks';
import { type FileDetail, getJson, objectUrl } from './api.ts';
import { ActionButton, Section, Status } from './components.tsx';
import { bytes, duration, time } from './format.ts';
import { StateGraph } from './graph.tsx';
import { useDebounced, useLive } from './live.ts';

type Output = FileDetail['outputs'][number];

const REDRIVABLE = new Set(['FAILED', 'ABORTED', 'TIMED_OUT']);

function pretty(json: string | null): string {
  if (json === null) return '–';
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

function Thumbnail({ output, label }: { readonly output: Output; readonly label: string }) {
  return (
    <figure class="thumb" data-output={output.key}>
      {output.missing ? (
        <div class="missing">{output.missing}</div>
      ) : (
        <a href={objectUrl(output.key)} target="_blank" rel="noreferrer">
          <img src={objectUrl(output.key)} alt={output.key} loading="lazy" />
        </a>
      )}
      <figcaption>
        <strong>{label}</strong>
        <br />
        {output.width && output.height ? `${output.width}×${output.height}` : ''}{' '}
        {output.format ?? ''} {bytes(output.bytes)}
      </figcaption>
    </figure>
  );
}

function CsvOutputs({ csv }: { readonly csv: NonNullable<FileDetail['csv']> }) {
  const report = csv.report;
  return (
    <>
      {report && (
        <div class="report" data-report-valid={String(report.valid)}>
          <p>
            <Status status={report.valid ? 'VALID' : 'INVALID'} />{' '}
            {Object.entries(report.stats)
              .map(([name, value]) => `${name} ${value}`)
              .join(' · ')}
          </p>
          {report.errors.length > 0 && (
            <table class="report-errors">
              <thead>
                <tr>
                  <th>row</th>
                  <th>field</th>
                  <th>cell</th>
                  <th>error</th>
                </tr>
              </thead>
              <tbody>
                {report.errors.map((error, i) => (
                  <tr key={i}>
                    <td>{error.rowNumber ?? '–'}</td>
                    <td>{error.fieldName ?? '–'}</td>
                    <td>
                      <code>{error.cell ?? ''}</code>
                    </td>
                    <td>{error.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {report.moreErrors > 0 && <p class="muted">and {report.moreErrors} more in the report</p>}
        </div>
      )}
      {csv.rejected && (
        <>
          <h3>Rejected rows</h3>
          <div class="scroll">
            <table class="rejected">
              <thead>
                <tr>
                  {csv.rejected.header.map((name) => (
                    <th key={name} class={name.startsWith('_') ? 'meta' : ''}>
                      {name}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {csv.rejected.rows.map((row, i) => (
                  <tr key={i} data-rejected-row={row[0]}>
                    {row.map((cell, j) => (
                      <td key={j} class={j < 2 ? 'meta' : ''}>
                        {cell}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}

function Timeline({ states }: { readonly states: FileDetail['view']['states'] }) {
  const starts = states.map((s) => Date.parse(s.startDate ?? '')).filter((t) => !Number.isNaN(t));
  const stops = states.map((s) => Date.parse(s.stopDate ?? '')).filter((t) => !Number.isNaN(t));
  if (starts.length === 0) return null;
  const first = Math.min(...starts);
  const span = Math.max(1, Math.max(...stops, ...starts) - first);
  return (
    <div class="timeline">
      {states.map((state, i) => {
        const start = Date.parse(state.startDate ?? '') - first;
        const width = ((state.durationMs ?? 0) / span) * 100;
        return (
          <div class="lane" key={i}>
            <span class="lane-name">{state.name}</span>
            <span class="lane-track">
              <span
                class={`bar state-${state.status.toLowerCase()}`}
                style={{ left: `${(start / span) * 100}%`, width: `max(${width}%, 2px)` }}
                title={`${state.status} ${duration(state.durationMs)}`}
              />
            </span>
            <span class="lane-time">
              {duration(state.durationMs)}
              {state.retries > 0
                ? ` · ${state.retries} retr${state.retries === 1 ? 'y' : 'ies'}`
                : ''}
            </span>
          </div>
        );
      })}
    </div>
  );
}

export function FilePage() {
  const query = new URLSearchParams(location.search);
  const key = query.get('key') ?? '';
  const execution = query.get('execution');
  const [detail, setDetail] = useState<FileDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => {
    const params = new URLSearchParams({ key, ...(execution ? { execution } : {}) });
    getJson<FileDetail>(`/api/file?${params}`).then(
      (answer) => {
        setDetail(answer);
        setError(null);
      },
      (failure: Error) => setError(failure.message),
    );
  };
  useEffect(load, [key, execution]);
  const reload = useDebounced(load, 150);
  useLive({ files: (rows) => rows.some((row) => row.key === key) && reload() });

  if (error)
    return (
      <main>
        <p class="error">{error}</p>
      </main>
    );
  if (!detail)
    return (
      <main>
        <p class="muted">Loading {key}…</p>
      </main>
    );
  const { view } = detail;
  const variants = detail.outputs.filter((o) => o.role === 'variant');
  const others = detail.outputs.filter((o) => o.role !== 'variant');
  const latest = view.attempts.at(-1);
  return (
    <main data-file={view.key}>
      <div class="toolbar">
        <h1>{view.key}</h1>
        <Status status={view.status} />
      </div>
      <p class="muted">
        {view.dataset} · {view.kind} · {bytes(view.size)} · version {view.versionTag} ·{' '}
        {view.attempts.length} attempt(s)
        {view.duplicates > 0 ? ` · ${view.duplicates} duplicate event(s) skipped` : ''}
      </p>
      {view.error && (
        <p class="error-box" data-error={view.error.name}>
          <strong>{view.error.name}</strong>: {view.error.message}
        </p>
      )}
      <div class="actions">
        {view.key && view.status !== 'PROCESSING' && (
          <ActionButton
            label="Replay"
            path="/api/replay"
            body={{ keys: [view.key] }}
            onDone={reload}
          />
        )}
        {latest && REDRIVABLE.has(view.executionStatus ?? '') && (
          <ActionButton
            label="Redrive"
            path="/api/redrive"
            body={{ executionArns: [latest.executionArn] }}
            onDone={reload}
          />
        )}
      </div>
      <Section title="Outputs">
        {(detail.original?.width || variants.length > 0) && detail.original && (
          <div class="thumbs">
            <Thumbnail output={detail.original} label="original" />
            {variants.map((output) => (
              <Thumbnail
                key={output.key}
                output={output}
                label={output.key.split('/').pop() ?? output.key}
              />
            ))}
          </div>
        )}
        {detail.csv && <CsvOutputs csv={detail.csv} />}
        {others.length > 0 && (
          <ul class="objects">
            {others.map((output) => (
              <li key={output.key}>
                <a href={objectUrl(output.key)} target="_blank" rel="noreferrer">
                  {output.key}
                </a>{' '}
                <span class="muted">
                  {output.role} · {output.missing ?? bytes(output.bytes)}
                </span>
              </li>
            ))}
          </ul>
        )}
        {detail.quarantineError !== null && (
          <details open>
            <summary>Quarantine error document</summary>
            <pre>{JSON.stringify(detail.quarantineError, null, 2)}</pre>
          </details>
        )}
        {detail.outputs.length === 0 && <p class="muted">No outputs recorded for this attempt.</p>}
      </Section>
      <Section title="Attempts">
        <table>
          <thead>
            <tr>
              <th>attempt</th>
              <th>status</th>
              <th>started</th>
              <th>duration</th>
              <th>error</th>
              <th>execution</th>
            </tr>
          </thead>
          <tbody>
            {view.attempts.map((attempt) => (
              <tr key={attempt.executionArn} data-attempt={attempt.attempt}>
                <td>{attempt.attempt}</td>
                <td>
                  <Status status={attempt.status} />
                </td>
                <td>{time(attempt.startDate)}</td>
                <td>{duration(attempt.durationMs)}</td>
                <td title={attempt.error?.message}>{attempt.error?.name ?? ''}</td>
                <td>
                  <a
                    href={`/file?key=${encodeURIComponent(view.key ?? '')}&execution=${encodeURIComponent(attempt.executionArn)}`}
                  >
                    {attempt.executionArn.split(':').pop()?.slice(0, 16)}…
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="States">
        <div class="states">
          <StateGraph definition={detail.definition} runs={view.states} />
          <Timeline states={view.states} />
        </div>
        <table class="state-runs">
          <thead>
            <tr>
              <th>state</th>
              <th>status</th>
              <th>duration</th>
              <th>retries</th>
              <th>input / output / error</th>
            </tr>
          </thead>
          <tbody>
            {view.states.map((state, i) => (
              <tr key={i}>
                <td>
                  {state.name} <span class="muted">{state.type}</span>
                </td>
                <td>
                  <Status status={state.status} />
                </td>
                <td>{duration(state.durationMs)}</td>
                <td>{state.retries}</td>
                <td>
                  <details>
                    <summary>
                      {state.error ? `${state.error.name}: ${state.error.message}` : 'data'}
                    </summary>
                    <div class="io">
                      <pre>{pretty(detail.stateData[i]?.input ?? null)}</pre>
                      <pre>{pretty(detail.stateData[i]?.output ?? null)}</pre>
                    </div>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Logs">
        {view.logs.length === 0 ? (
          <p class="muted">{view.logsNote ?? 'No log lines for this execution.'}</p>
        ) : (
          <pre class="logs">
            {view.logs
              .map(
                (line) =>
                  `${line.timestamp ?? ''} ${line.level ?? ''} ${line.function ?? ''} ${line.message ?? ''}`,
              )
              .join('\n')}
          </pre>
        )}
      </Section>
    </main>
  );
}
