/**
 * The Conversations view: search by message id, correlation id or a business key in a payload (an
 * order id); the whole business transaction as a sequence diagram (drawn by the server), its
 * timings, a link to the trace, "copy as Mermaid", and its journal rows.
 * @module
 */
import { api, h, message } from '../dom.js';

interface Entry {
  readonly at: number;
  readonly type: string;
  readonly source?: string;
  readonly service: string;
  readonly endpoint: string;
  readonly outcome: string;
  readonly attempt: number;
  readonly durationMs: number;
  readonly messageId: string;
  readonly error?: string;
}
interface Answer {
  readonly sequence: {
    readonly lifelines: string[];
    readonly arrows: unknown[];
    readonly elapsedMs: number;
    readonly traceIds: string[];
    readonly correlationIds: string[];
  };
  readonly svg: string;
  readonly mermaid: string;
  readonly entries: Entry[];
  readonly tookMs: number;
}

let last = '';

/** Renders the view into `view`; `traceUrl` has `{traceId}` in it. */
export function conversationsView(view: HTMLElement, traceUrl: string | undefined, initial?: string): void {
  const result = h('div', { id: 'conversation' });
  const search = h('input', {
    type: 'search',
    name: 'q',
    id: 'conversation-query',
    placeholder: 'message id, correlation id or business key (an order id)',
    value: initial ?? last,
  });
  const run = async () => {
    last = search.value.trim();
    if (last === '') return;
    result.replaceChildren(h('p', { class: 'muted' }, 'searching…'));
    try {
      const answer = await api<Answer>(`/api/conversations?q=${encodeURIComponent(last)}`);
      render(result, answer, traceUrl);
    } catch (error) {
      result.replaceChildren(message('error', (error as Error).message));
    }
  };
  view.replaceChildren(
    h('h2', {}, 'Conversations'),
    h(
      'form',
      {
        class: 'bar',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void run();
        },
      },
      search,
      h('button', { class: 'action', type: 'submit', id: 'conversation-search' }, 'Find'),
    ),
    result,
  );
  if (search.value !== '') void run();
}

function render(result: HTMLElement, answer: Answer, traceUrl: string | undefined): void {
  const { sequence } = answer;
  if (answer.entries.length === 0) {
    result.replaceChildren(message('info', 'No message in the journal matches.'));
    return;
  }
  const diagram = h('div', { class: 'diagram', id: 'diagram' });
  // The SVG is made by the server with every text escaped; it is parsed as SVG, not as HTML.
  const svg = new DOMParser().parseFromString(answer.svg, 'image/svg+xml').documentElement;
  diagram.append(document.importNode(svg, true));
  const copied = h('span', { class: 'muted', id: 'copied' });
  const traces = sequence.traceIds.map((id) =>
    traceUrl === undefined
      ? h('code', { class: 'tag' }, id)
      : h('a', { href: traceUrl.replace('{traceId}', encodeURIComponent(id)), target: '_blank', rel: 'noopener' }, id),
  );
  result.replaceChildren(
    h(
      'p',
      { id: 'conversation-summary' },
      `${answer.entries.length} deliveries across ${sequence.lifelines.length} services in ${Math.round(sequence.elapsedMs)} ms · correlation ${sequence.correlationIds.join(', ')} · found in ${answer.tookMs} ms`,
    ),
    h(
      'div',
      { class: 'bar' },
      h('span', {}, 'trace:'),
      ...(traces.length > 0
        ? traces
        : [h('span', { class: 'muted' }, 'none recorded (no OpenTelemetry provider registered in the services)')]),
    ),
    h(
      'div',
      { class: 'bar' },
      h(
        'button',
        {
          class: 'action',
          id: 'copy-mermaid',
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(answer.mermaid);
              copied.textContent = 'copied';
            } catch {
              copied.textContent = 'the browser refused the clipboard: copy from the Mermaid text below';
            }
          },
        },
        'Copy as Mermaid',
      ),
      copied,
    ),
    diagram,
    h('details', {}, h('summary', {}, 'Mermaid'), h('pre', { id: 'mermaid' }, answer.mermaid)),
    h(
      'table',
      { id: 'journal-rows' },
      h('tr', {}, ...['time', 'type', 'from', 'to', 'outcome', 'attempt', 'took', 'error'].map((c) => h('th', {}, c))),
      ...answer.entries.map((e) =>
        h(
          'tr',
          {},
          h('td', {}, new Date(e.at).toISOString().slice(11, 23)),
          h('td', {}, h('code', {}, e.type)),
          h('td', {}, e.source ?? ''),
          h('td', {}, `${e.service}/${e.endpoint}`),
          h('td', { class: e.outcome === 'handled' ? 'live' : e.outcome === 'retried' ? 'warn' : 'bad' }, e.outcome),
          h('td', {}, e.attempt),
          h('td', {}, `${e.durationMs.toFixed(1)} ms`),
          h('td', {}, e.error ?? ''),
        ),
      ),
    ),
  );
}
