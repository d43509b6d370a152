#!/usr/bin/env node
// The CLI is TypeScript. Each start bundles it with esbuild (about 40 ms, as the local runtime
// bundles the functions) instead of registering a TypeScript loader (about 160 ms), so a fresh
// clone needs no build step and `sluice resize` starts on its images sooner.
import { rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

// The SDK warns on Node 20 that releases after January 2027 will need Node 22; the lock file pins
// today's releases, and the deployed functions run on a current LTS, so the CLI stays quiet.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `sluice run --json | head` closes the pipe early: that is the reader's choice, not a crash.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// One directory per process, so two CLIs started at once never read each other's half-written
// bundle; commands load lazily, so it must outlive `main`, and goes at exit.
const outdir = fileURLToPath(
  new URL(`../node_modules/.cache/sluice/cli/${process.pid}/`, import.meta.url),
);
process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));
await build({
  entryPoints: [fileURLToPath(new URL('./program.ts', import.meta.url))],
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'error',
});
const { main } = await import(pathToFileURL(`${outdir}program.mjs`).href);
process.exitCode = await main(process.argv);
