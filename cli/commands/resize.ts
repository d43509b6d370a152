import { Command } from 'commander';

// Placeholder until the owning issue lands; replaced wholesale.
export function resizeCommand(): Command {
  return new Command('resize');
}
