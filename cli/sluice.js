#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so a fresh clone needs no build step before `npm start`.
import { register } from 'tsx/esm/api';

// The SDK warns on Node 20 that releases after January 2027 will need Node 22; the lock file pins
// today's releases, and the deployed functions run on a current LTS, so the CLI stays quiet.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `sluice run --json | head` closes the pipe early: that is the reader's choice, not a crash.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
register();
const { main } = await import('./program.ts');
process.exitCode = await main(process.argv);
