/**
 * The Live tail view: messages of a type pattern (`shop.#`, `*.order-placed`) as they pass, newest
 * first, through the server's event stream; stopping (or leaving the view) deletes its queue.
 * @module
 */
import { h, message, token } from '../dom.js';

let source: EventSource | undefined;

/** Stops a running tail. */
export function stopTail(): void {
  source?.close();
  source = undefined;
}

/** Renders the view into `view`. */
export function tailView(view: HTMLElement): void {
  const lines = h('div', { id: 'tail-lines' });
  const state = h('span', { class: 'muted', id: 'tail-state' }, 'stopped');
  const pattern = h('input', { name: 'pattern', id: 'tail-pattern', value: '#', placeholder: 'type pattern: shop.# or *.order-placed' });
  const start = () => {
    stopTail();
    lines.replaceChildren();
    const es = new EventSource(`/api/tail?pattern=${encodeURIComponent(pattern.value)}&token=${encodeURIComponent(token())}`);
    source = es;
    state.textContent = 'connecting…';
    es.addEventListener('ready', () => (state.textContent = `tailing ${pattern.value}`));
    es.onmessage = (event: MessageEvent<string>) => {
      const m = JSON.parse(event.data) as {
        time?: string;
        type: string;
        id: string;
        source?: string;
        correlationId?: string;
        data?: unknown;
      };
      lines.prepend(
        h(
          'div',
          { class: 'tail-line' },
          `${(m.time ?? '').slice(11, 23)}  ${m.type}  from ${m.source ?? '?'}  corr=${m.correlationId ?? ''}  ${JSON.stringify(m.data)}`,
        ),
      );
      while (lines.childElementCount > 500) lines.lastElementChild?.remove();
    };
    es.onerror = () => {
      state.textContent = 'disconnected';
      es.close();
      view.prepend(message('error', 'the tail stopped (a bad pattern, or the dashboard went away)'));
    };
  };
  view.replaceChildren(
    h('h2', {}, 'Live tail'),
    h(
      'form',
      {
        class: 'bar',
        onsubmit: (e: Event) => {
          e.preventDefault();
          start();
        },
      },
      pattern,
      h('button', { class: 'action', type: 'submit', id: 'tail-start' }, 'Start'),
      h('button', { class: 'action', type: 'button', onclick: () => ((state.textContent = 'stopped'), stopTail()) }, 'Stop'),
      state,
    ),
    lines,
  );
}
