import dagre from '@dagrejs/dagre';
import { useMemo } from 'preact/hooks';

interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Default?: string;
  readonly Choices?: readonly { readonly Next: string }[];
  readonly Catch?: readonly { readonly Next: string }[];
  readonly Branches?: readonly Asl[];
  readonly ItemProcessor?: Asl;
  readonly Iterator?: Asl;
}

interface Asl {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
}

/** The worst of a state's runs wins its colour: a Map iteration that failed shows. */
const RANK = ['FAILED', 'TIMED_OUT', 'ABORTED', 'CAUGHT', 'RUNNING', 'INTERRUPTED', 'SUCCEEDED'];

export function stateColours(
  runs: readonly { readonly name: string; readonly status: string }[],
): Map<string, string> {
  const colours = new Map<string, string>();
  for (const run of runs) {
    const seen = colours.get(run.name);
    if (!seen || RANK.indexOf(run.status) < RANK.indexOf(seen)) colours.set(run.name, run.status);
  }
  return colours;
}

interface Laid {
  readonly nodes: { name: string; type: string; x: number; y: number; w: number; h: number }[];
  readonly clusters: { name: string; x: number; y: number; w: number; h: number }[];
  readonly edges: { points: { x: number; y: number }[]; caught: boolean }[];
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Lays the state machine out with dagre: one node per state, Map and Parallel states boxed with
 * their branches. A branch's last states lead to the Map's or Parallel's Next.
 */
function layout(asl: Asl): Laid {
  const graph = new dagre.graphlib.Graph({ compound: true });
  graph.setGraph({ rankdir: 'TB', nodesep: 18, ranksep: 30, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  const types = new Map<string, string>();
  const clusters: string[] = [];
  const drawn = new Set<string>();
  // A Catch that goes where Next goes already is the same arrow.
  const edge = (from: string, to: string, caught = false) => {
    if (drawn.has(`${from}\0${to}`)) return;
    drawn.add(`${from}\0${to}`);
    graph.setEdge(from, to, { caught });
  };
  const add = (machine: Asl, parent: string | undefined, exit: string | undefined) => {
    for (const [name, state] of Object.entries(machine.States)) {
      types.set(name, state.Type);
      graph.setNode(name, { width: Math.max(96, name.length * 7 + 20), height: 30 });
      if (parent) graph.setParent(name, parent);
      const branches = [
        ...(state.Branches ?? []),
        ...(state.ItemProcessor ? [state.ItemProcessor] : []),
        ...(state.Iterator ? [state.Iterator] : []),
      ];
      if (branches.length > 0) {
        const cluster = `cluster:${name}`;
        clusters.push(cluster);
        graph.setNode(cluster, { label: name });
        if (parent) graph.setParent(cluster, parent);
        graph.setParent(name, cluster);
        for (const branch of branches) {
          add(branch, cluster, state.Next ?? (state.End ? undefined : exit));
          edge(name, branch.StartAt);
        }
      } else if (state.Next) {
        edge(name, state.Next);
      }
      for (const choice of state.Choices ?? []) edge(name, choice.Next);
      if (state.Default) edge(name, state.Default);
      for (const handler of state.Catch ?? []) edge(name, handler.Next, true);
      if (state.End && exit && branches.length === 0) edge(name, exit);
    }
  };
  add(asl, undefined, undefined);
  dagre.layout(graph);
  const box = (id: string) => {
    const n = graph.node(id);
    return { x: n.x - n.width / 2, y: n.y - n.height / 2, w: n.width, h: n.height };
  };
  const nodes = [...types].map(([name, type]) => ({ name, type, ...box(name) }));
  const boxes = clusters.map((id) => ({ name: id.slice('cluster:'.length), ...box(id) }));
  const edges = graph.edges().map((e) => ({
    points: graph.edge(e).points,
    caught: Boolean((graph.edge(e) as { caught?: boolean }).caught),
  }));
  // Edges around a cluster can reach past the graph's own bounds: the view is what is drawn.
  const xs = [...nodes, ...boxes].flatMap((b) => [b.x, b.x + b.w]);
  const ys = [...nodes, ...boxes].flatMap((b) => [b.y, b.y + b.h]);
  for (const point of edges.flatMap((e) => e.points)) {
    xs.push(point.x);
    ys.push(point.y);
  }
  const [left, top] = [Math.min(...xs) - 8, Math.min(...ys) - 8];
  return {
    nodes,
    clusters: boxes,
    edges,
    left,
    top,
    width: Math.max(...xs) + 8 - left,
    height: Math.max(...ys) + 8 - top,
  };
}

/** The execution's states as a graph from its ASL, coloured by how each ran. */
export function StateGraph(props: {
  readonly definition: unknown;
  readonly runs: readonly { readonly name: string; readonly status: string }[];
}) {
  const asl = props.definition as Asl | null;
  const laid = useMemo(() => (asl?.States ? layout(asl) : null), [asl]);
  if (!laid) return <p class="muted">No state machine definition to draw.</p>;
  const colours = stateColours(props.runs);
  return (
    <svg
      class="graph"
      viewBox={`${laid.left} ${laid.top} ${laid.width} ${laid.height}`}
      width={laid.width}
      height={laid.height}
      role="img"
      aria-label="state graph"
    >
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 8 8"
          refX="7"
          refY="4"
          markerWidth="6"
          markerHeight="6"
          orient="auto"
        >
          <path d="M0,0 L8,4 L0,8 z" class="arrow" />
        </marker>
      </defs>
      {laid.clusters.map((c) => (
        <g key={c.name} class="cluster">
          <rect x={c.x} y={c.y} width={c.w} height={c.h} rx="6" />
        </g>
      ))}
      {laid.edges.map((e, i) => (
        <polyline
          key={i}
          class={e.caught ? 'edge caught' : 'edge'}
          points={e.points.map((p) => `${p.x},${p.y}`).join(' ')}
          marker-end="url(#arrow)"
        />
      ))}
      {laid.nodes.map((n) => {
        const status = colours.get(n.name) ?? 'NOT_RUN';
        return (
          <g
            key={n.name}
            class={`node state-${status.toLowerCase()}`}
            data-state={n.name}
            data-state-status={status}
          >
            <title>{`${n.name} (${n.type}): ${status}`}</title>
            <rect x={n.x} y={n.y} width={n.w} height={n.h} rx={n.type === 'Choice' ? 14 : 4} />
            <text x={n.x + n.w / 2} y={n.y + n.h / 2 + 4} text-anchor="middle">
              {n.name}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
