// The trust graph: CAs, intermediates, leaves and consumers laid out by ELK's layered algorithm (elkjs), drawn
// as SVG; broken edges are red with their reason.
// Zoom and pan with the wheel, dragging, the buttons or the keyboard (+ − arrows 0); filter by cluster,
// namespace and node (the server filters) and by kind (here).

import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import { useEffect, useMemo, useRef, useState } from 'react';
import {
  ClusterFilter,
  certHref,
  ErrorLine,
  type Graph,
  type GraphEdge,
  type GraphNode,
  HealthBadge,
  Loading,
  setQuery,
  useLoad,
  useSession,
} from '../lib.tsx';

const KINDS = ['root', 'intermediate', 'leaf', 'consumer'] as const;
const NODE_H = 34;
/**
 * Most nodes the page lays out. ELK's layered layout runs on the page's thread and grows much faster than the
 * node count: the 5,000 nodes the server sends for 100k certificates held the page for minutes. Beyond this the
 * page says so and offers the filters; the broken edges are still listed beside.
 */
export const MAX_LAID_OUT = 800;

interface Placed {
  nodes: (GraphNode & { x: number; y: number; w: number; h: number })[];
  edges: (GraphEdge & { id: string; d: string; mid: { x: number; y: number } })[];
  width: number;
  height: number;
}

let elk: Promise<{ layout(g: ElkNode): Promise<ElkNode> }> | undefined;

/** Lay `graph` out with ELK (elkjs' bundled build, on the page's thread; loaded with the first graph, 1.6 MB). */
async function elkLayout(graph: ElkNode): Promise<ElkNode> {
  elk ??= import('elkjs/lib/elk.bundled.js').then((m) => new m.default());
  return (await elk).layout(graph);
}

function nodeWidth(n: GraphNode): number {
  return Math.min(260, Math.max(90, n.label.length * 7 + 24));
}

async function layout(g: Graph): Promise<Placed> {
  const ids = new Set(g.nodes.map((n) => n.id));
  const edges = g.edges.filter((e) => ids.has(e.from) && ids.has(e.to));
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.layered.spacing.nodeNodeBetweenLayers': '70',
      'elk.spacing.nodeNode': '18',
      'elk.edgeRouting': 'SPLINES',
    },
    children: g.nodes.map((n) => ({ id: n.id, width: nodeWidth(n), height: NODE_H })),
    edges: edges.map((e, i): ElkExtendedEdge => ({ id: `e${i}`, sources: [e.from], targets: [e.to] })),
  };
  const out = await elkLayout(graph);
  const pos = new Map((out.children ?? []).map((c) => [c.id, c]));
  const placedEdges = (out.edges ?? []).map((le, i) => {
    const e = edges[i] as GraphEdge;
    const s = le.sections?.[0];
    const pts = s ? [s.startPoint, ...(s.bendPoints ?? []), s.endPoint] : [];
    const d = pts.length ? `M${pts.map((p) => `${p.x},${p.y}`).join(' L')}` : '';
    const mid = pts.length ? (pts[Math.floor(pts.length / 2)] as { x: number; y: number }) : { x: 0, y: 0 };
    return { ...e, id: le.id, d, mid };
  });
  return {
    nodes: g.nodes.map((n) => {
      const p = pos.get(n.id);
      return { ...n, x: p?.x ?? 0, y: p?.y ?? 0, w: p?.width ?? nodeWidth(n), h: NODE_H };
    }),
    edges: placedEdges,
    width: out.width ?? 800,
    height: out.height ?? 600,
  };
}

interface View {
  x: number;
  y: number;
  k: number;
}

export function GraphPage({ query }: { query: URLSearchParams }) {
  const { api } = useSession();
  const cluster = query.get('cluster') ?? undefined;
  const namespace = query.get('namespace') ?? undefined;
  const node = query.get('node') ?? undefined;
  const focus = query.get('focus') ?? undefined;
  const graph = useLoad(() => api.graph({ cluster, namespace, node }), [cluster, namespace, node], ['certificate', 'cluster']);
  const [kinds, setKinds] = useState<Set<string>>(new Set(KINDS));
  const [brokenOnly, setBrokenOnly] = useState(false);
  const [placed, setPlaced] = useState<Placed>();
  const [layoutError, setLayoutError] = useState<string>();
  const [view, setView] = useState<View>({ x: 20, y: 20, k: 1 });
  const [selected, setSelected] = useState<string | undefined>(focus);
  const svgRef = useRef<SVGSVGElement>(null);

  const shown = useMemo((): Graph | undefined => {
    const g = graph.data;
    if (!g) return undefined;
    let nodes = g.nodes.filter((n) => kinds.has(n.kind));
    let edges = g.edges;
    if (brokenOnly) {
      edges = edges.filter((e) => !e.ok);
      const touched = new Set(edges.flatMap((e) => [e.from, e.to]));
      nodes = nodes.filter((n) => touched.has(n.id));
    }
    const ids = new Set(nodes.map((n) => n.id));
    return { nodes, edges: edges.filter((e) => ids.has(e.from) && ids.has(e.to)) };
  }, [graph.data, kinds, brokenOnly]);

  const tooMany = shown !== undefined && shown.nodes.length > MAX_LAID_OUT;
  useEffect(() => {
    if (!shown) return;
    if (shown.nodes.length > MAX_LAID_OUT) {
      setPlaced(undefined);
      return;
    }
    let stale = false;
    layout(shown).then(
      (p) => {
        if (stale) return;
        setPlaced(p);
        setLayoutError(undefined);
        // Fit the drawing into the canvas.
        const box = svgRef.current?.getBoundingClientRect();
        if (box && p.width > 0) {
          const k = Math.min(1.5, Math.max(0.1, Math.min((box.width - 40) / p.width, (box.height - 40) / p.height)));
          setView({ k, x: 20, y: 20 });
        }
      },
      (e: Error) => !stale && setLayoutError(`layout failed: ${e.message}`),
    );
    return () => {
      stale = true;
    };
  }, [shown]);

  const zoom = (f: number, cx?: number, cy?: number) =>
    setView((v) => {
      const k = Math.min(4, Math.max(0.05, v.k * f));
      const box = svgRef.current?.getBoundingClientRect();
      const px = cx ?? (box ? box.width / 2 : 0);
      const py = cy ?? (box ? box.height / 2 : 0);
      return { k, x: px - ((px - v.x) * k) / v.k, y: py - ((py - v.y) * k) / v.k };
    });

  // Wheel zoom needs a non-passive listener to keep the page from scrolling.
  useEffect(() => {
    const svg = svgRef.current;
    if (!svg) return;
    const on = (e: WheelEvent) => {
      e.preventDefault();
      const box = svg.getBoundingClientRect();
      zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - box.left, e.clientY - box.top);
    };
    svg.addEventListener('wheel', on, { passive: false });
    return () => svg.removeEventListener('wheel', on);
  });

  const drag = useRef<{ x: number; y: number; vx: number; vy: number } | undefined>(undefined);
  const broken = (graph.data?.edges ?? []).filter((e) => !e.ok);
  const label = new Map((graph.data?.nodes ?? []).map((n) => [n.id, n.label]));
  const sel = selected === undefined ? undefined : graph.data?.nodes.find((n) => n.id === selected || n.sha256 === selected);

  const onKey = (e: React.KeyboardEvent) => {
    const step = 40;
    if (e.key === '+' || e.key === '=') zoom(1.2);
    else if (e.key === '-') zoom(1 / 1.2);
    else if (e.key === 'ArrowLeft') setView((v) => ({ ...v, x: v.x + step }));
    else if (e.key === 'ArrowRight') setView((v) => ({ ...v, x: v.x - step }));
    else if (e.key === 'ArrowUp') setView((v) => ({ ...v, y: v.y + step }));
    else if (e.key === 'ArrowDown') setView((v) => ({ ...v, y: v.y - step }));
    else if (e.key === '0') setView({ x: 20, y: 20, k: 1 });
    else return;
    e.preventDefault();
  };

  return (
    <>
      <h2>Trust graph</h2>
      <div className="filters">
        <ClusterFilter value={cluster} />
        <label>
          Namespace
          <input defaultValue={namespace ?? ''} onBlur={(e) => setQuery({ namespace: e.target.value })} size={12} />
        </label>
        <label>
          Node
          <input defaultValue={node ?? ''} onBlur={(e) => setQuery({ node: e.target.value })} size={12} />
        </label>
        <fieldset className="row" style={{ border: 'none', padding: 0, margin: 0 }}>
          <legend className="muted" style={{ fontSize: 12 }}>
            Show
          </legend>
          {KINDS.map((k) => (
            <label key={k} className="row" style={{ flexDirection: 'row', gap: 4 }}>
              <input
                type="checkbox"
                checked={kinds.has(k)}
                onChange={(e) => {
                  const next = new Set(kinds);
                  if (e.target.checked) next.add(k);
                  else next.delete(k);
                  setKinds(next);
                }}
              />
              {k}
            </label>
          ))}
          <label className="row" style={{ flexDirection: 'row', gap: 4 }}>
            <input type="checkbox" checked={brokenOnly} onChange={(e) => setBrokenOnly(e.target.checked)} />
            broken only
          </label>
        </fieldset>
      </div>
      <div className="legend" aria-hidden="true">
        <span>
          <span className="swatch" /> signs / presents
        </span>
        <span>
          <span className="swatch" style={{ background: 'repeating-linear-gradient(90deg,var(--edge) 0 6px,transparent 6px 9px)' }} />{' '}
          trusts
        </span>
        <span>
          <span className="swatch broken" /> broken (reason on the edge)
        </span>
      </div>
      <ErrorLine error={graph.error ?? layoutError} />
      <Loading loading={graph.loading && !graph.data} />
      {graph.data?.truncated && <p className="notice">More than 5,000 nodes: the server sent the first 5,000. Filter to see the rest.</p>}
      {tooMany && (
        <div className="notice" role="status" data-testid="graph-too-many">
          <p style={{ margin: 0 }}>
            {shown?.nodes.length.toLocaleString('en-US')} nodes are more than this page lays out ({MAX_LAID_OUT}): filter by cluster,
            namespace or node, or show fewer kinds. The broken edges are listed beside.
          </p>
          <div className="row">
            {kinds.has('leaf') && (
              <button type="button" onClick={() => setKinds(new Set([...kinds].filter((k) => k !== 'leaf')))}>
                Hide leaves
              </button>
            )}
            {!brokenOnly && (
              <button type="button" onClick={() => setBrokenOnly(true)}>
                Broken edges only
              </button>
            )}
          </div>
        </div>
      )}
      <div className="graph-wrap">
        <div className="graph-canvas">
          <svg
            ref={svgRef}
            role="application"
            aria-label="Trust graph: use + and − to zoom, arrow keys to pan, 0 to reset; Tab moves through the nodes"
            // biome-ignore lint/a11y/noNoninteractiveTabindex: the canvas takes + − arrows and 0 for zoom and pan
            tabIndex={0}
            onKeyDown={onKey}
            onPointerDown={(e) => {
              if ((e.target as Element).closest('.gnode')) return;
              drag.current = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
              (e.currentTarget as Element).setPointerCapture(e.pointerId);
            }}
            onPointerMove={(e) => {
              const d = drag.current;
              if (d) setView((v) => ({ ...v, x: d.vx + e.clientX - d.x, y: d.vy + e.clientY - d.y }));
            }}
            onPointerUp={() => {
              drag.current = undefined;
            }}
            data-testid="graph"
          >
            <defs>
              <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                <path d="M 0 0 L 10 5 L 0 10 z" fill="var(--edge)" />
              </marker>
              <marker id="arrow-bad" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                <path d="M 0 0 L 10 5 L 0 10 z" fill="#d1242f" />
              </marker>
            </defs>
            <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
              {placed?.edges.map((e) => (
                <g key={e.id}>
                  <path
                    className={`gedge k-${e.kind}${e.ok ? '' : ' broken'}`}
                    d={e.d}
                    markerEnd={e.ok ? 'url(#arrow)' : 'url(#arrow-bad)'}
                    data-from={e.from}
                    data-to={e.to}
                    data-ok={String(e.ok)}
                  >
                    <title>
                      {label.get(e.from)} {e.kind} {label.get(e.to)}
                      {e.ok ? '' : `: broken, ${e.reason ?? 'no reason given'}`}
                    </title>
                  </path>
                  {!e.ok && (
                    <text className="gedge-label" x={e.mid.x + 4} y={e.mid.y - 4}>
                      {(e.reason ?? 'broken').slice(0, 60)}
                      {(e.reason ?? '').length > 60 ? '…' : ''}
                    </text>
                  )}
                </g>
              ))}
              {placed?.nodes.map((n) => (
                // biome-ignore lint/a11y/useSemanticElements: an SVG node cannot be a <button>
                <g
                  key={n.id}
                  className={`gnode k-${n.kind}${n.health ? ` h-${n.health}` : ''}${selected !== undefined && (selected === n.id || selected === n.sha256) ? ' selected' : ''}`}
                  transform={`translate(${n.x},${n.y})`}
                  tabIndex={0}
                  role="button"
                  aria-label={`${n.kind} ${n.label}${n.health ? `, ${n.health}` : ''}`}
                  onClick={() => setSelected(n.id)}
                  onKeyDown={(e) => {
                    if (e.key === 'Enter' || e.key === ' ') {
                      e.preventDefault();
                      setSelected(n.id);
                    }
                  }}
                  data-node={n.id}
                >
                  <rect width={n.w} height={n.h} rx={n.kind === 'consumer' ? 2 : 8} />
                  <text x={10} y={21}>
                    {n.label.length > 34 ? `${n.label.slice(0, 33)}…` : n.label}
                  </text>
                </g>
              ))}
            </g>
          </svg>
          <div className="zoom">
            <button type="button" onClick={() => zoom(1.2)} aria-label="Zoom in">
              +
            </button>
            <button type="button" onClick={() => zoom(1 / 1.2)} aria-label="Zoom out">
              −
            </button>
            <button type="button" onClick={() => setView({ x: 20, y: 20, k: 1 })} aria-label="Reset zoom">
              1:1
            </button>
          </div>
        </div>
        <aside className="side" aria-label="Details">
          {sel ? (
            <section>
              <h3>{sel.label}</h3>
              <p>
                {sel.kind} in {sel.cluster}
                {sel.namespace ? `, namespace ${sel.namespace}` : ''}
                {sel.node ? `, node ${sel.node}` : ''} <HealthBadge health={sel.health} />
              </p>
              {sel.sha256 && <a href={certHref(sel.sha256, sel.cluster)}>Certificate details →</a>}
              <ul>
                {(graph.data?.edges ?? [])
                  .filter((e) => e.from === sel.id || e.to === sel.id)
                  .map((e) => (
                    <li key={`${e.from}>${e.to}>${e.kind}`} className={e.ok ? '' : 'error'}>
                      {label.get(e.from)} {e.kind} {label.get(e.to)}
                      {e.ok ? '' : `: ${e.reason ?? 'broken'}`}
                    </li>
                  ))}
              </ul>
            </section>
          ) : (
            <p className="muted">Select a node (click, or Tab then Enter) for its edges.</p>
          )}
          <h3>Broken edges ({broken.length})</h3>
          <ul data-testid="broken-edges">
            {broken.map((e) => (
              <li key={`${e.from}>${e.to}>${e.kind}`}>
                <button type="button" className="linklike" onClick={() => setSelected(e.from)}>
                  {label.get(e.from)}
                </button>{' '}
                {e.kind} {label.get(e.to)}: <span className="error">{e.reason ?? 'broken'}</span>
              </li>
            ))}
          </ul>
          {placed && (
            <p className="muted">
              {placed.nodes.length} nodes, {placed.edges.length} edges shown
            </p>
          )}
        </aside>
      </div>
    </>
  );
}
