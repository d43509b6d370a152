import type { FaultRule } from './rules.ts';

/** What a rule does to a call it hits; a rule has exactly one. */
export const EFFECTS = ['error', 'latency', 'reset', 'commitThenReset', 'recordFailures'] as const;
export type FaultEffect = (typeof EFFECTS)[number];

/** Which effect a valid rule has. */
export const effectOf = (rule: FaultRule): FaultEffect =>
  EFFECTS.find((effect) => rule[effect] !== undefined) as FaultEffect;
