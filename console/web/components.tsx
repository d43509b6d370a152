import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { type ActionPlan, postJson } from './api.ts';

export function Status({ status }: { readonly status: string }) {
  return (
    <span class={`status status-${status.toLowerCase()}`} data-status={status}>
      {status}
    </span>
  );
}

export function Section(props: { readonly title: string; readonly children: ComponentChildren }) {
  return (
    <section>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

/**
 * A replay or redrive in two steps: the dry-run plan first, from the server, and nothing
 * happens until the user confirms it.
 */
export function ActionButton(props: {
  readonly label: string;
  readonly path: '/api/replay' | '/api/redrive';
  readonly body: Record<string, unknown>;
  readonly onDone?: () => void;
}) {
  const [plan, setPlan] = useState<ActionPlan | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const ask = (confirm: boolean) =>
    postJson<ActionPlan>(props.path, { ...props.body, confirm }).then(
      (answer) => {
        setError(null);
        if (confirm) {
          setPlan(null);
          const started = answer.plan.filter((item) => !item.action.startsWith('skip')).length;
          setDone(`${started} started`);
          props.onDone?.();
        } else {
          setDone(null);
          setPlan(answer);
        }
      },
      (failure: Error) => setError(failure.message),
    );
  const runnable = plan?.plan.filter((item) => !item.action.startsWith('skip')).length ?? 0;
  return (
    <div class="action">
      <button type="button" onClick={() => ask(false)} data-action={props.label}>
        {props.label}…
      </button>
      {done && <span class="done">{done}</span>}
      {error && <span class="error">{error}</span>}
      {plan && (
        <div class="plan" role="dialog" aria-label={`${props.label} plan`}>
          <p>
            <strong>Dry run:</strong> {runnable} of {plan.plan.length} file(s) would run;{' '}
            {plan.rerun}.
          </p>
          <table>
            <thead>
              <tr>
                <th>file</th>
                <th>last error</th>
                <th>plan</th>
              </tr>
            </thead>
            <tbody>
              {plan.plan.map((item) => (
                <tr key={item.executionArn}>
                  <td>{item.key}</td>
                  <td>{item.lastError?.name ?? '–'}</td>
                  <td>{item.action}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" class="confirm" disabled={runnable === 0} onClick={() => ask(true)}>
            Confirm {props.label.toLowerCase()}
          </button>
          <button type="button" onClick={() => setPlan(null)}>
            Cancel
          </button>
        </div>
      )}
    </div>
  );
}
