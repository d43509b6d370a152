#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so a fresh clone needs no build step before `npm start`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./program.ts');
process.exitCode = await main(process.argv);
