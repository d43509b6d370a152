#!/usr/bin/env node
// The CLI is TypeScript, bundled with esbuild into node_modules/.cache so that a fresh clone
// needs no build step; the bundle is reused while none of its sources changed.
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cachedBuild } from '../local/cached-build.js';

// The SDK warns on Node 20 that releases after January 2027 will need Node 22; the lock file pins
// today's releases, and the deployed functions run on a current LTS, so the CLI stays quiet.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `sluice run --json | head` closes the pipe early: that is the reader's choice, not a crash.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = await cachedBuild(root, join(root, 'node_modules', '.cache', 'sluice', 'cli'), {
  entryPoints: ['cli/program.ts'],
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
});
const { main } = await import(pathToFileURL(join(outdir, 'program.mjs')).href);
process.exitCode = await main(process.argv);
