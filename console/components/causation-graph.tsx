// The causation graph drawn by Cytoscape.js with the dagre layout (causes above their effects).
// Loaded on demand: the causation page imports this module dynamically, so the layout
// libraries are fetched only when the graph is shown.
import cytoscape from 'cytoscape';
import dagre from 'cytoscape-dagre';
import type { CausationGraph } from 'evdb/client';
import { useEffect, useRef } from 'preact/hooks';

cytoscape.use(dagre);

/**
 * Cytoscape adds an inline `<style>` to the page unless an element with this id exists, and the
 * page's Content-Security-Policy refuses inline styles. Its one rule (the container is
 * `position: relative`) is in styles.css instead.
 */
const CYTOSCAPE_STYLESHEET_ID = '__________cytoscape_stylesheet';
if (document.getElementById(CYTOSCAPE_STYLESHEET_ID) === null) {
  const marker = document.createElement('meta');
  marker.id = CYTOSCAPE_STYLESHEET_ID;
  document.head.append(marker);
}

export default function CausationGraphView(props: {
  graph: CausationGraph;
  /** The event the page is about, drawn highlighted. */
  focus: string;
  onOpen: (eventId: string) => void;
}): preact.JSX.Element {
  const { graph, focus, onOpen } = props;
  const holder = useRef<HTMLDivElement>(null);
  const open = useRef(onOpen);
  open.current = onOpen;

  useEffect(() => {
    const container = holder.current;
    if (container === null) return undefined;
    const ids = new Set(graph.nodes.map((node) => node.eventId));
    const cy = cytoscape({
      container,
      elements: [
        ...graph.nodes.map((node) => ({
          data: {
            id: node.eventId,
            label: `${node.eventType}\n${node.streamId} @ ${node.version}`,
          },
          classes: [
            node.eventId === focus ? 'focus' : '',
            node.eventId === graph.root ? 'root' : '',
          ].join(' '),
        })),
        ...graph.edges
          .filter((edge) => ids.has(edge.from) && ids.has(edge.to))
          .map((edge) => ({
            data: { id: `${edge.from}>${edge.to}`, source: edge.from, target: edge.to },
          })),
      ],
      style: [
        {
          selector: 'node',
          style: {
            shape: 'round-rectangle',
            label: 'data(label)',
            'text-wrap': 'wrap',
            'text-valign': 'center',
            'text-halign': 'center',
            'font-size': 11,
            color: '#10243a',
            'background-color': '#dbeafe',
            'border-color': '#1f6fb2',
            'border-width': 1,
            // Sized to the label (the style value 'label' is deprecated).
            width: (node: cytoscape.NodeSingular) => labelWidth(String(node.data('label'))),
            height: 44,
          },
        },
        { selector: 'node.root', style: { 'border-width': 3 } },
        {
          selector: 'node.focus',
          style: { 'background-color': '#fde68a', 'border-color': '#a16207', 'border-width': 3 },
        },
        {
          selector: 'edge',
          style: {
            width: 2,
            'line-color': '#64748b',
            'target-arrow-color': '#64748b',
            'target-arrow-shape': 'triangle',
            'curve-style': 'bezier',
          },
        },
      ],
      layout: { name: 'dagre', rankDir: 'TB', nodeSep: 30, rankSep: 50 } as cytoscape.LayoutOptions,
      minZoom: 0.2,
      maxZoom: 3,
    });
    cy.on('tap', 'node', (event) => open.current((event.target as cytoscape.NodeSingular).id()));
    cy.on('mouseover', 'node', () => container.classList.add('pointer'));
    cy.on('mouseout', 'node', () => container.classList.remove('pointer'));
    return () => cy.destroy();
  }, [graph, focus]);

  return (
    <div
      ref={holder}
      class="graph-canvas"
      role="img"
      aria-label="Causation graph; the list below has the same events"
    />
  );
}

/** Roughly the width of a two-line label at 11px, in pixels. */
function labelWidth(label: string): number {
  const longest = Math.max(...label.split('\n').map((line) => line.length));
  return Math.max(80, longest * 6.5 + 24);
}
