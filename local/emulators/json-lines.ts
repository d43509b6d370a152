import { existsSync, readFileSync } from 'node:fs';

/**
 * The values of an append-only JSON-lines file, none when it does not exist. A line that does not
 * parse is the one a crash cut short, and is dropped: everything before it is whole.
 */
export function readJsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const values: T[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    try {
      values.push(JSON.parse(line) as T);
    } catch {
      // cut short
    }
  }
  return values;
}
