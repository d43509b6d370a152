import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../project-root.ts';

type Json = ReturnType<typeof JSON.parse>;

/** Substitutes `${Name}` placeholders as CloudFormation's definitionSubstitutions does. */
export function substituteDefinition(text: string, substitutions: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}/g, (placeholder, name: string) => {
    const value = substitutions[name];
    if (value === undefined) throw new Error(`No substitution for ${placeholder}`);
    return value;
  });
}

/** Every state in a definition, nested Parallel branches and Map processors included. */
export function* allStates(machine: Json): Generator<[string, Json]> {
  for (const [name, state] of Object.entries<Json>(machine?.States ?? {})) {
    yield [name, state];
    for (const branch of state.Branches ?? []) yield* allStates(branch);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) yield* allStates(processor);
  }
}

/** Every Task state, which the local runner must resolve to a local handler. */
export function taskStates(definition: Json): { name: string; resource: string }[] {
  return [...allStates(definition)]
    .filter(([, state]) => state.Type === 'Task')
    .map(([name, state]) => ({ name, resource: state.Resource }));
}

/**
 * Where definitions that passed the interpreter's validation are remembered. Compiling its
 * JSON schemas costs about 0.2 s of CPU per state machine on every start of `sluice run` and
 * `sluice up`, for the same two files each time.
 */
const VALIDATED = join(PROJECT_ROOT, 'node_modules', '.cache', 'sluice', 'asl-validated');

const INTERPRETER_VERSION: string = JSON.parse(
  readFileSync(
    join(PROJECT_ROOT, 'node_modules', 'aws-local-stepfunctions', 'package.json'),
    'utf8',
  ),
).version;

/** The definition and the interpreter that validated it: either changing validates again. */
export const validationKey = (definition: Json): string =>
  createHash('sha256')
    .update(INTERPRETER_VERSION)
    .update('\0')
    .update(JSON.stringify(definition))
    .digest('hex');

/** Whether the definition of this `validationKey` passed validation before. */
export function validatedBefore(key: string): boolean {
  return existsSync(join(VALIDATED, key));
}

/** Remembers that the definition passed; a cache that cannot be written only costs time. */
export function rememberValidated(key: string): void {
  try {
    mkdirSync(VALIDATED, { recursive: true });
    writeFileSync(join(VALIDATED, key), '');
  } catch {
    // A read-only install validates on every start, as before.
  }
}
