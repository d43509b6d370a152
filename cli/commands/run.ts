import { Command } from 'commander';

// Placeholder until the owning issue lands; replaced wholesale.
export function runCommand(): Command {
  return new Command('run');
}
