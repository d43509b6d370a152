#!/usr/bin/env node
// The CLI is TypeScript, bundled with esbuild into node_modules/.cache so that a fresh clone
// needs no build step. The bundle is kept and reused while none of its input files changed:
// checking them is a stat each (about 2 ms), where loading esbuild and bundling cost about 250 ms
// on every command.
import { createHash } from 'node:crypto';
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The SDK warns on Node 20 that releases after January 2027 will need Node 22; the lock file pins
// today's releases, and the deployed functions run on a current LTS, so the CLI stays quiet.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `sluice run --json | head` closes the pipe early: that is the reader's choice, not a crash.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const root = fileURLToPath(new URL('..', import.meta.url));
const cache = join(root, 'node_modules', '.cache', 'sluice', 'cli');
const manifestPath = join(cache, 'manifest.json');

/** A digest of the inputs' sizes and modification times: it names the bundle they make. */
function digest(inputs) {
  const hash = createHash('sha256');
  for (const input of inputs) {
    const { size, mtimeMs } = statSync(join(root, input));
    hash.update(`${input}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

function cachedBundle() {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const entry = join(cache, manifest.key, 'program.mjs');
    return manifest.key === digest(manifest.inputs) && existsSync(entry) ? entry : undefined;
  } catch {
    return undefined; // no manifest yet, or an input was deleted: build again
  }
}

async function build() {
  const esbuild = await import('esbuild');
  // Each process builds in its own folder, so two CLIs started at once never read each other's
  // half-written bundle; the first to finish names it.
  const scratch = join(cache, `build-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: [join(root, 'cli', 'program.ts')],
    outdir: scratch,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'error',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs)
    .map((input) => relative(root, resolve(root, input)))
    .sort();
  await esbuild.stop();
  const key = digest(inputs);
  const target = join(cache, key);
  try {
    renameSync(scratch, target);
  } catch {
    rmSync(scratch, { recursive: true, force: true }); // another process got there first
  }
  writeFileSync(`${manifestPath}.${process.pid}`, JSON.stringify({ key, inputs }));
  renameSync(`${manifestPath}.${process.pid}`, manifestPath);
  // Bundles of older sources; an hour's grace for a long `sluice up` still loading from one.
  for (const name of readdirSync(cache)) {
    const path = join(cache, name);
    if (name !== key && !name.endsWith('.json') && statSync(path).mtimeMs < Date.now() - 3600_000) {
      rmSync(path, { recursive: true, force: true });
    }
  }
  return join(target, 'program.mjs');
}

const entry = cachedBundle() ?? (await build());
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv);
