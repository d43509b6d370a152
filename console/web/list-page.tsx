import { useEffect, useState } from 'preact/hooks';
import { type FilePage, fileUrl, getJson, type UploadPath } from './api.ts';
import { Section, Status } from './components.tsx';
import { duration, percent, time } from './format.ts';
import { useDebounced, useLive } from './live.ts';
import { UploadPathView } from './upload-path.tsx';

const STATUSES = ['PROCESSING', 'SUCCEEDED', 'QUARANTINED', 'FAILED', 'ABORTED', 'TIMED_OUT'];
const FILTERS = ['status', 'dataset', 'prefix', 'since', 'until', 'error'] as const;
const RANGES: readonly [string, number | null][] = [
  ['1 h', 3600e3],
  ['24 h', 86400e3],
  ['7 d', 7 * 86400e3],
  ['all', null],
];
const PAGE = 100;

/** An ISO time as a datetime-local input shows it: the browser's local time, to the minute. */
function localInput(iso: string | undefined): string {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(ms)) return '';
  return new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

const isoOf = (local: string) => (local ? new Date(local).toISOString() : undefined);

type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

function readFilters(): Filters {
  const query = new URLSearchParams(location.search);
  return Object.fromEntries(
    FILTERS.flatMap((name) => (query.get(name) ? [[name, query.get(name)]] : [])),
  );
}

/** Keeps the filters in the URL, so that a link or a reload shows the same list. */
function writeFilters(filters: Filters): void {
  const query = new URLSearchParams();
  for (const name of FILTERS) if (filters[name]) query.set(name, filters[name] as string);
  const search = query.toString();
  history.replaceState(null, '', search ? `/?${search}` : '/');
}

export function ListPage() {
  const [filters, setFilters] = useState<Filters>(readFilters);
  const [limit, setLimit] = useState(PAGE);
  const [page, setPage] = useState<FilePage | null>(null);
  const [path, setPath] = useState<UploadPath | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = () => {
    const query = new URLSearchParams({ ...filters, limit: String(limit) } as Record<
      string,
      string
    >);
    getJson<FilePage>(`/api/files?${query}`).then(
      (answer) => {
        setPage(answer);
        setError(null);
      },
      (failure: Error) => setError(failure.message),
    );
  };
  useEffect(() => {
    writeFilters(filters);
    load();
  }, [filters, limit]);
  useEffect(() => {
    getJson<UploadPath>('/api/path').then(setPath, () => {});
  }, []);
  const reload = useDebounced(load, 150);
  const live = useLive({ files: reload, path: setPath });

  // A filter that is cleared is left out: URLSearchParams would send it as "undefined".
  const set = (name: keyof Filters, value: string | undefined) =>
    setFilters(({ [name]: _cleared, ...rest }) => (value ? { ...rest, [name]: value } : rest));
  const statuses = new Set((filters.status ?? '').split(',').filter(Boolean));
  const toggle = (status: string) => {
    const next = new Set(statuses);
    if (next.has(status)) next.delete(status);
    else next.add(status);
    set('status', [...next].join(','));
  };

  return (
    <main>
      <div class="toolbar">
        <h1>Files</h1>
        <span class={live ? 'live on' : 'live'}>{live ? '● live' : '○ reconnecting'}</span>
      </div>
      <div class="filters">
        <div class="chips">
          {STATUSES.map((status) => (
            <button
              type="button"
              key={status}
              class={statuses.has(status) ? 'chip selected' : 'chip'}
              onClick={() => toggle(status)}
              data-filter-status={status}
            >
              <Status status={status} /> {page?.counts[status] ?? 0}
            </button>
          ))}
        </div>
        <label>
          dataset{' '}
          <select
            value={filters.dataset ?? ''}
            onChange={(e) => set('dataset', e.currentTarget.value)}
          >
            <option value="">all</option>
            {(page?.datasets ?? []).map((d) => (
              <option key={d.dataset} value={d.dataset}>
                {d.dataset}
              </option>
            ))}
            {filters.dataset && !page?.datasets.some((d) => d.dataset === filters.dataset) && (
              <option value={filters.dataset}>{filters.dataset}</option>
            )}
          </select>
        </label>
        <label>
          key prefix{' '}
          <input
            name="prefix"
            value={filters.prefix ?? ''}
            placeholder="incoming/orders/"
            onChange={(e) => set('prefix', e.currentTarget.value)}
          />
        </label>
        <label>
          error{' '}
          <select value={filters.error ?? ''} onChange={(e) => set('error', e.currentTarget.value)}>
            <option value="">any</option>
            {(page?.errorNames ?? []).map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <span class="range">
          {RANGES.map(([label, ms]) => (
            <button
              type="button"
              key={label}
              class="chip"
              onClick={() => {
                set('until', undefined);
                set('since', ms === null ? undefined : new Date(Date.now() - ms).toISOString());
              }}
            >
              {label}
            </button>
          ))}
          <label>
            from{' '}
            <input
              type="datetime-local"
              name="since"
              value={localInput(filters.since)}
              onInput={(e) => set('since', isoOf(e.currentTarget.value))}
            />
          </label>
          <label>
            to{' '}
            <input
              type="datetime-local"
              name="until"
              value={localInput(filters.until)}
              onInput={(e) => set('until', isoOf(e.currentTarget.value))}
            />
          </label>
        </span>
      </div>
      {error && <p class="error">{error}</p>}
      <Section title="Datasets">
        <table class="datasets">
          <thead>
            <tr>
              <th>dataset</th>
              <th>files</th>
              <th>success rate</th>
              <th>rows</th>
              <th>invalid rows</th>
            </tr>
          </thead>
          <tbody>
            {(page?.datasets ?? []).map((d) => (
              <tr key={d.dataset}>
                <td>
                  <a
                    href={`/?${new URLSearchParams({ ...filters, dataset: d.dataset } as Record<string, string>)}`}
                  >
                    {d.dataset}
                  </a>
                </td>
                <td>{d.files}</td>
                <td>{percent(d.successRate)}</td>
                <td>{d.rows ?? '–'}</td>
                <td>{d.invalidRows ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title={`Files (${page?.total ?? '…'})`}>
        <table class="files">
          <thead>
            <tr>
              <th>key</th>
              <th>dataset</th>
              <th>kind</th>
              <th>status</th>
              <th>duration</th>
              <th>error</th>
              <th>time</th>
            </tr>
          </thead>
          <tbody>
            {(page?.rows ?? []).map((row) => (
              <tr
                key={`${row.key}\0${row.versionTag}`}
                data-key={row.key}
                data-row-status={row.status}
              >
                <td>
                  <a href={fileUrl(row.key)}>{row.key}</a>
                  {row.attempts > 1 && <span class="muted"> · attempt {row.attempt}</span>}
                </td>
                <td>{row.dataset}</td>
                <td>{row.kind}</td>
                <td>
                  <Status status={row.status} />
                </td>
                <td>{duration(row.durationMs)}</td>
                <td title={row.error?.message}>{row.error?.name ?? ''}</td>
                <td>{time(row.stopDate ?? row.startDate)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {page && page.rows.length < page.total && (
          <button type="button" onClick={() => setLimit(limit + PAGE)}>
            Show {Math.min(PAGE, page.total - page.rows.length)} more of{' '}
            {page.total - page.rows.length}
          </button>
        )}
        {page && page.total === 0 && (
          <p class="muted">No file matches. Upload one under incoming/&lt;dataset&gt;/.</p>
        )}
      </Section>
      <UploadPathView path={path} />
    </main>
  );
}
