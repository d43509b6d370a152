import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';

/** One function log line (Powertools' JSON), with the function it came from. */
export type LogLine = Record<string, unknown> & {
  /** The log file's function id (`ResizeImage`), from `<logDir>/<function>.log`. */
  readonly function: string;
};

/**
 * The local function log lines of one execution: the JSON lines of `<logDir>/*.log` whose
 * `executionId` is the execution's ARN (every file task appends it, see fileTask), oldest first.
 * Lines that are not JSON (a crash's stack trace) are skipped; a missing dir has no lines.
 */
export async function executionLogs(logDir: string, executionArn: string): Promise<LogLine[]> {
  let files: string[];
  try {
    files = (await readdir(logDir)).filter((file) => file.endsWith('.log')).sort();
  } catch {
    return [];
  }
  const lines: LogLine[] = [];
  for (const file of files) {
    const fn = basename(file, '.log');
    const reader = createInterface({
      input: createReadStream(join(logDir, file), 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const line of reader) {
      // Most lines belong to other executions: skip them before paying for JSON.parse.
      if (!line.includes(executionArn)) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      const entry = parsed as Record<string, unknown> | null;
      if (entry && typeof entry === 'object' && entry.executionId === executionArn) {
        lines.push({ function: fn, ...entry });
      }
    }
  }
  const time = (line: LogLine) => String(line.timestamp ?? '');
  return lines.sort((a, b) => time(a).localeCompare(time(b)));
}
