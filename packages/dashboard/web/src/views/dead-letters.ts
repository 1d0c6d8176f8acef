/**
 * The Dead letters view: filter by endpoint, reason, type and time; inspect one (failure, headers,
 * envelope); replay or purge one, the checked selection, or everything matching the reason or
 * type filter — the CLI's semantics (`missive dlq replay|purge`), one endpoint at a time.
 * @module
 */
import { api, h, message } from '../dom.js';

interface Summary {
  readonly endpoint: string;
  readonly id: string;
  readonly type: string;
  readonly reason: string;
  readonly attempts: number;
  readonly time: string;
  readonly error: string;
}

interface Filter {
  endpoint: string;
  reason: string;
  type: string;
  since: string;
}

const filter: Filter = { endpoint: '', reason: '', type: '', since: '' };

function query(): string {
  const params = new URLSearchParams();
  if (filter.endpoint !== '') params.set('endpoint', filter.endpoint);
  if (filter.reason !== '') params.set('reason', filter.reason);
  if (filter.type !== '') params.set('type', filter.type);
  if (filter.since !== '') params.set('since', new Date(filter.since).toISOString());
  return params.toString();
}

/** Renders the view into `view`. */
export async function deadLettersView(view: HTMLElement, notice?: HTMLElement): Promise<void> {
  const { total, deadLetters } = await api<{ total: number; deadLetters: Summary[] }>(`/api/dead-letters?${query()}`);
  const selected = new Set<string>();
  const detail = h('div', { id: 'dead-letter-detail' });
  const act = async (action: 'replay' | 'purge', endpoint: string, body: Record<string, unknown>) => {
    if (action === 'purge' && !confirm(`Purge dead letters of ${endpoint}? This cannot be undone.`)) return;
    try {
      const result = await api<Record<string, number>>(`/api/dead-letters/${encodeURIComponent(endpoint)}/${action}`, body);
      await deadLettersView(
        view,
        message(
          'info',
          action === 'replay'
            ? `replayed ${result.replayed} message(s) to ${endpoint}`
            : `purged ${result.purged} dead letter(s) of ${endpoint}`,
        ),
      );
    } catch (error) {
      view.prepend(message('error', (error as Error).message));
    }
  };
  const show = async (letter: Summary) => {
    const full = await api<Record<string, unknown>>(
      `/api/dead-letters/${encodeURIComponent(letter.endpoint)}/${encodeURIComponent(letter.id)}`,
    );
    detail.replaceChildren(
      h(
        'div',
        { class: 'panel' },
        h('h2', {}, `${letter.type} in ${letter.endpoint}`),
        h(
          'div',
          { class: 'bar' },
          h('button', { class: 'action', id: 'replay-one', onclick: () => act('replay', letter.endpoint, { ids: [letter.id] }) }, 'Replay'),
          h(
            'button',
            { class: 'action danger', id: 'purge-one', onclick: () => act('purge', letter.endpoint, { ids: [letter.id] }) },
            'Purge',
          ),
        ),
        h('pre', {}, JSON.stringify(full, null, 2)),
      ),
    );
  };
  const endpoints = [...new Set(deadLetters.map((d) => d.endpoint))];
  const bulkEndpoint = filter.endpoint !== '' ? filter.endpoint : endpoints.length === 1 ? endpoints[0] : undefined;
  const byFilter = filter.reason !== '' ? { reason: filter.reason } : filter.type !== '' ? { type: filter.type } : undefined;
  const input = (name: keyof Filter, placeholder: string, type = 'text') =>
    h('input', {
      name,
      placeholder,
      type,
      value: filter[name],
      onchange: (e: Event) => (filter[name] = (e.target as HTMLInputElement).value),
    });
  const parts: (HTMLElement | null)[] = [
    notice ?? null,
    h('h2', {}, `Dead letters (${total})`),
    h(
      'form',
      {
        class: 'bar',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void deadLettersView(view);
        },
      },
      input('endpoint', 'endpoint'),
      input('reason', 'reason (HANDLER_FAILED, …)'),
      input('type', 'message type'),
      input('since', 'since', 'datetime-local'),
      h('button', { class: 'action', type: 'submit' }, 'Filter'),
    ),
    h(
      'div',
      { class: 'bar' },
      h(
        'button',
        {
          class: 'action',
          id: 'replay-selected',
          onclick: () => {
            const ids = deadLetters.filter((d) => selected.has(d.id));
            const ends = new Set(ids.map((d) => d.endpoint));
            for (const end of ends) void act('replay', end, { ids: ids.filter((d) => d.endpoint === end).map((d) => d.id) });
          },
        },
        'Replay selected',
      ),
      h(
        'button',
        {
          class: 'action danger',
          onclick: () => {
            const ids = deadLetters.filter((d) => selected.has(d.id));
            for (const end of new Set(ids.map((d) => d.endpoint)))
              void act('purge', end, { ids: ids.filter((d) => d.endpoint === end).map((d) => d.id) });
          },
        },
        'Purge selected',
      ),
      bulkEndpoint !== undefined && byFilter !== undefined
        ? h(
            'button',
            { class: 'action', onclick: () => act('replay', bulkEndpoint, byFilter) },
            `Replay all of ${bulkEndpoint} with this ${'reason' in byFilter ? 'reason' : 'type'}`,
          )
        : h('span', { class: 'muted' }, 'Filter by endpoint and a reason or type to replay or purge them all at once.'),
      bulkEndpoint !== undefined && byFilter !== undefined
        ? h('button', { class: 'action danger', onclick: () => act('purge', bulkEndpoint, byFilter) }, 'Purge all matching')
        : null,
    ),
    h(
      'table',
      { id: 'dead-letters' },
      h('tr', {}, ...['', 'time', 'endpoint', 'type', 'reason', 'attempts', 'error'].map((c) => h('th', {}, c))),
      ...deadLetters.map((d) =>
        h(
          'tr',
          { class: 'clickable', 'data-id': d.id, onclick: () => void show(d) },
          h(
            'td',
            {},
            h('input', {
              type: 'checkbox',
              onclick: (e: Event) => (
                e.stopPropagation(),
                (e.target as HTMLInputElement).checked ? selected.add(d.id) : selected.delete(d.id)
              ),
            }),
          ),
          h('td', {}, d.time.replace('T', ' ').slice(0, 19)),
          h('td', {}, d.endpoint),
          h('td', {}, h('code', {}, d.type)),
          h('td', { class: 'bad' }, d.reason),
          h('td', {}, d.attempts),
          h('td', {}, d.error.slice(0, 120)),
        ),
      ),
    ),
    deadLetters.length === 0 ? h('p', { class: 'muted', id: 'no-dead-letters' }, 'No dead letters match.') : null,
    detail,
  ];
  view.replaceChildren(...parts.filter((part): part is HTMLElement => part !== null));
}
