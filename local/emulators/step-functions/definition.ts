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
