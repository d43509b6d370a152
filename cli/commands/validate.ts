import { Command } from 'commander';

// Placeholder until the owning issue lands; replaced wholesale.
export function validateCommand(): Command {
  return new Command('validate');
}
