import { useEffect, useRef, useState } from 'preact/hooks';
import type { FileRow, UploadPath } from './api.ts';

export interface LiveHandlers {
  /** Rows that changed: a file started, or an attempt closed. */
  readonly files?: (rows: readonly FileRow[]) => void;
  /** The upload queue and its dead letters, when they changed. */
  readonly path?: (path: UploadPath) => void;
}

/**
 * The server's pushes over one EventSource, which reconnects by itself; returns whether it is
 * connected now, for the page to say so.
 */
export function useLive(handlers: LiveHandlers): boolean {
  const current = useRef(handlers);
  current.current = handlers;
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const source = new EventSource('/api/events');
    source.addEventListener('hello', () => setConnected(true));
    source.addEventListener('error', () => setConnected(false));
    source.addEventListener('files', (event) =>
      current.current.files?.(JSON.parse((event as MessageEvent).data).rows),
    );
    source.addEventListener('path', (event) =>
      current.current.path?.(JSON.parse((event as MessageEvent).data)),
    );
    return () => source.close();
  }, []);
  return connected;
}

/** Calls `run` at most once per `ms`, at the end of a burst. */
export function useDebounced(run: () => void, ms: number): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(run);
  latest.current = run;
  useEffect(() => () => clearTimeout(timer.current), []);
  return () => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  };
}
