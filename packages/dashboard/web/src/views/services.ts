/**
 * The Services view: live instances (endpoints, version, host, last heartbeat, live or stale, health) and
 * every contract with who sends it and who handles it, its JSON Schema on demand.
 * @module
 */
import { ago, api, h } from '../dom.js';

interface ContractInfo {
  readonly name: string;
  readonly kind: string;
  readonly version: number;
  readonly schema?: unknown;
  readonly sentBy?: readonly string[];
  readonly handledBy?: readonly string[];
}
interface Instance {
  readonly service: string;
  readonly instance: string;
  readonly host: string;
  readonly pid: number;
  readonly version?: string;
  readonly status: 'live' | 'stale';
  readonly lastSeen: number;
  readonly health?: { readonly ready: boolean; readonly reasons: readonly string[] };
  readonly endpoints: readonly { readonly name: string; readonly handles: readonly ContractInfo[] }[];
}

/** Renders the view into `view`. */
export async function servicesView(view: HTMLElement): Promise<void> {
  const { instances, contracts } = await api<{ instances: Instance[]; contracts: ContractInfo[] }>('/api/services');
  view.replaceChildren(
    h('h2', {}, `Services (${instances.filter((i) => i.status === 'live').length} live instances)`),
    h(
      'table',
      { id: 'instances' },
      h('tr', {}, ...['service', 'instance', 'status', 'health', 'version', 'host', 'endpoints', 'last heard'].map((c) => h('th', {}, c))),
      ...instances.map((i) =>
        h(
          'tr',
          { 'data-service': i.service },
          h('td', {}, h('strong', {}, i.service)),
          h('td', {}, i.instance),
          h('td', { class: i.status }, i.status),
          i.health === undefined
            ? h('td', { class: 'muted' }, 'not reported')
            : i.health.ready
              ? h('td', { class: 'ready', 'data-health': 'ready' }, 'ready')
              : h('td', { class: 'not-ready', 'data-health': 'not-ready' }, `not ready: ${i.health.reasons.join('; ')}`),
          h('td', {}, i.version ?? ''),
          h('td', {}, `${i.host} (pid ${i.pid})`),
          h('td', {}, ...i.endpoints.map((e) => h('span', { class: 'tag' }, `${e.name} (${e.handles.length})`))),
          h('td', { class: 'muted' }, ago(i.lastSeen)),
        ),
      ),
    ),
    h('h2', {}, `Contracts (${contracts.length})`),
    h(
      'table',
      { id: 'contracts' },
      h('tr', {}, ...['contract', 'kind', 'sent by', 'handled by', 'schema'].map((c) => h('th', {}, c))),
      ...contracts.map((c) =>
        h(
          'tr',
          { 'data-contract': c.name },
          h('td', {}, h('code', {}, c.name), h('span', { class: 'muted' }, ` v${c.version}`)),
          h('td', {}, c.kind),
          h('td', {}, ...(c.sentBy ?? []).map((s) => h('span', { class: 'tag' }, s))),
          h('td', {}, ...(c.handledBy ?? []).map((s) => h('span', { class: 'tag' }, s))),
          h(
            'td',
            {},
            c.schema === undefined
              ? h('span', { class: 'muted' }, 'none')
              : h('details', {}, h('summary', {}, 'JSON Schema'), h('pre', {}, JSON.stringify(c.schema, null, 2))),
          ),
        ),
      ),
    ),
  );
}
