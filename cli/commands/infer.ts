import { Command } from 'commander';

// Placeholder until the owning issue lands; replaced wholesale.
export function inferCommand(): Command {
  return new Command('infer');
}
