#!/usr/bin/env node
// The CLI is TypeScript, bundled with esbuild into node_modules/.cache so that a fresh clone
// needs no build step; the bundle is reused while none of its sources changed. Its packages are
// bundled too: Node's loader resolved and compiled the SDK's hundreds of files one by one, which
// took most of the first second of every `sluice run`.
import { join, sep } from 'node:path';
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
  // Native code stays in node_modules (sharp, classic-level; esbuild's binary). dynalite and
  // kinesalite require each action by a computed path, which no bundler can follow.
  external: ['sharp', 'classic-level', 'esbuild', 'dynalite', 'kinesalite'],
  mainFields: ['module', 'main'],
  // Bundled CommonJS keeps its `require` calls, which Node's ESM loader does not provide.
  banner: {
    js: "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);",
  },
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // V8 keeps and parses every script's whole source: minified, the service chunk is 1.4 MB, not
  // 2.4. Error class names stay.
  minify: true,
  keepNames: true,
  // Beside the bundle, not inside it: an inline map tripled what every start reads and parses,
  // and NODE_OPTIONS=--enable-source-maps still finds it.
  sourcemap: 'linked',
  sourcesContent: false,
  // s3rver's busboy, and only s3rver's, is a shim that loads it on first use (see the shim).
  plugins: [
    {
      name: 's3rver-busboy-on-demand',
      setup(build) {
        build.onResolve({ filter: /^busboy$/ }, ({ importer }) =>
          importer.includes(`${sep}s3rver${sep}`)
            ? { path: join(root, 'local', 'emulators', 's3rver-busboy.cjs') }
            : undefined,
        );
      },
    },
  ],
});
const { main } = await import(pathToFileURL(join(outdir, 'program.mjs')).href);
process.exitCode = await main(process.argv);
