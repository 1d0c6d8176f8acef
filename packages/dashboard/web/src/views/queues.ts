/**
 * The Queues view: every queue's depth, in flight, dead letters and consumers now, and its depth
 * over the last samples as a sparkline (a rising line is a backlog growing).
 * @module
 */
import { api, h } from '../dom.js';

interface QueueInfo {
  readonly name: string;
  readonly depth: number;
  readonly inFlight: number;
  readonly deadLetters: number;
  readonly consumers?: number;
  readonly topics: readonly string[];
}
interface Sample {
  readonly at: number;
  readonly queues: Record<string, { depth: number; inFlight: number; deadLetters: number } | undefined>;
}

const SVG = 'http://www.w3.org/2000/svg';

function sparkline(values: readonly number[]): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', '160');
  svg.setAttribute('height', '28');
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? 156 / (values.length - 1) : 0;
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#1f3b57');
  line.setAttribute('points', values.map((v, i) => `${2 + i * step},${26 - (v / max) * 24}`).join(' '));
  svg.append(line);
  return svg;
}

/** Renders the view into `view`. */
export async function queuesView(view: HTMLElement): Promise<void> {
  const { queues, history } = await api<{ queues: QueueInfo[]; history: Sample[] }>('/api/queues');
  const visible = queues.filter((q) => !q.name.startsWith('missive-')); // the catalog's, the tails' and the dashboard's own
  view.replaceChildren(
    h('h2', {}, `Queues (${visible.length})`),
    h(
      'table',
      { id: 'queues' },
      h('tr', {}, ...['queue', 'depth', 'in flight', 'dead letters', 'consumers', 'depth over time', 'topics'].map((c) => h('th', {}, c))),
      ...visible.map((q) =>
        h(
          'tr',
          { 'data-queue': q.name },
          h('td', {}, h('strong', {}, q.name)),
          h('td', {}, q.depth),
          h('td', {}, q.inFlight),
          h('td', { class: q.deadLetters > 0 ? 'bad' : '' }, q.deadLetters),
          h('td', {}, q.consumers ?? ''),
          h('td', {}, sparkline(history.map((s) => s.queues[q.name]?.depth ?? 0))),
          h('td', {}, ...q.topics.map((t) => h('span', { class: 'tag' }, t))),
        ),
      ),
    ),
    h('p', { class: 'muted' }, `${history.length} samples; the dashboard samples every few seconds while it runs.`),
  );
}
