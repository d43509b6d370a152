import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BuildOptions, Plugin } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedBuild } from '#local/cached-build.js';

let root: string;
let builds: number;

/** Counts the builds esbuild really runs. */
const counter: Plugin = {
  name: 'count',
  setup(build) {
    build.onStart(() => {
      builds++;
    });
  },
};

const options = (entry: string): BuildOptions => ({
  entryPoints: [entry],
  bundle: true,
  format: 'esm',
  platform: 'node',
  outExtension: { '.js': '.mjs' },
  plugins: [counter],
});

const load = async (outdir: string, name: string) =>
  (await import(`${pathToFileURL(join(outdir, `${name}.mjs`)).href}?${Math.random()}`)) as {
    value: string;
  };

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sluice-build-'));
  builds = 0;
  writeFileSync(join(root, 'value.js'), "export const value = 'first';\n");
  writeFileSync(join(root, 'entry.js'), "export { value } from './value.js';\n");
  writeFileSync(join(root, 'other.js'), "export const value = 'other';\n");
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('cachedBuild', () => {
  it('reuses a build while its inputs are unchanged, and builds again when one changes', async () => {
    // Prepare
    const cache = join(root, 'cache');
    const first = await cachedBuild(root, cache, options('entry.js'));

    // Act
    const again = await cachedBuild(root, cache, options('entry.js'));
    writeFileSync(join(root, 'value.js'), "export const value = 'second';\n");
    utimesSync(join(root, 'value.js'), new Date(), new Date(Date.now() + 5000));
    const changed = await cachedBuild(root, cache, options('entry.js'));

    // Assess: an unchanged import changes nothing; a changed one is bundled into a new folder.
    expect(again).toBe(first);
    expect(changed).not.toBe(first);
    expect(builds).toBe(2);
    expect((await load(first, 'entry')).value).toBe('first');
    expect((await load(changed, 'entry')).value).toBe('second');
  });

  it('runs one build for calls made at once, and keeps builds of other entries apart', async () => {
    // Prepare
    const cache = join(root, 'cache');

    // Act
    const [one, two] = await Promise.all([
      cachedBuild(root, cache, options('entry.js')),
      cachedBuild(root, cache, options('entry.js')),
    ]);
    const other = await cachedBuild(root, cache, options('other.js'));
    const entryAgain = await cachedBuild(root, cache, options('entry.js'));

    // Assess
    expect(two).toBe(one);
    expect(entryAgain).toBe(one);
    expect(builds).toBe(2);
    expect(existsSync(join(other, 'other.mjs'))).toBe(true);
  });

  it("counts a package's files through the install that put them in node_modules", async () => {
    // Prepare: an entry that bundles a package, and npm's record of the install.
    const cache = join(root, 'cache');
    const later = (seconds: number) => new Date(Date.now() + seconds * 1000);
    mkdirSync(join(root, 'node_modules', 'pkg'), { recursive: true });
    writeFileSync(join(root, 'node_modules', 'pkg', 'index.js'), "export const value = 'v1';\n");
    writeFileSync(join(root, 'node_modules', '.package-lock.json'), '{}');
    writeFileSync(join(root, 'uses-pkg.js'), "export { value } from 'pkg';\n");
    const first = await cachedBuild(root, cache, options('uses-pkg.js'));

    // Act: the package changes in place, then an install records it.
    writeFileSync(join(root, 'node_modules', 'pkg', 'index.js'), "export const value = 'v2';\n");
    utimesSync(join(root, 'node_modules', 'pkg', 'index.js'), later(5), later(5));
    const inPlace = await cachedBuild(root, cache, options('uses-pkg.js'));
    utimesSync(join(root, 'node_modules', '.package-lock.json'), later(10), later(10));
    const installed = await cachedBuild(root, cache, options('uses-pkg.js'));

    // Assess: no stat of the package's own files, and a rebuild after the install.
    expect(inPlace).toBe(first);
    expect(installed).not.toBe(first);
    expect(builds).toBe(2);
    expect((await load(installed, 'uses-pkg')).value).toBe('v2');
  });
});
