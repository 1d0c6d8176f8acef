/**
 * The dashboard's front end: plain TypeScript and the DOM, compiled by `tsc` (no framework and no
 * bundler: five views and a dozen API calls do not need one; nothing is fetched from a CDN, so it
 * works offline). The tab shows in the fragment (`#services`, `#conversations?q=o-1`) so a view
 * can be linked.
 * @module
 */
import { ApiError, api, h, message, token } from './dom.js';
import { conversationsView } from './views/conversations.js';
import { deadLettersView } from './views/dead-letters.js';
import { queuesView } from './views/queues.js';
import { servicesView } from './views/services.js';
import { stopTail, tailView } from './views/tail.js';

const view = document.getElementById('view')!;
const status = document.getElementById('status')!;
let traceUrl: string | undefined;

async function show(name: string, arg?: string): Promise<void> {
  stopTail();
  for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) b.classList.toggle('active', b.dataset.view === name);
  view.replaceChildren(h('p', { class: 'muted' }, 'loading…'));
  try {
    if (name === 'services') await servicesView(view);
    else if (name === 'queues') await queuesView(view);
    else if (name === 'dead-letters') await deadLettersView(view);
    else if (name === 'conversations') conversationsView(view, traceUrl, arg);
    else if (name === 'tail') tailView(view);
  } catch (error) {
    view.replaceChildren(
      message(
        'error',
        error instanceof ApiError && error.status === 401
          ? 'The access token is missing or wrong: open the URL the dashboard printed.'
          : (error as Error).message,
      ),
    );
  }
}

function route(): void {
  const [name, query] = location.hash.slice(1).split('?');
  const q = new URLSearchParams(query ?? '').get('q') ?? undefined;
  void show(name === '' || name === undefined ? 'services' : name, q);
}

async function main(): Promise<void> {
  token(); // takes it from the fragment before anything else reads the hash
  for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button'))
    b.addEventListener('click', () => (location.hash = b.dataset.view ?? ''));
  window.addEventListener('hashchange', route);
  try {
    const overview = await api<{ transport: string; journal: boolean; traceUrl?: string }>('/api/overview');
    traceUrl = overview.traceUrl;
    status.textContent = `${overview.transport} transport · journal ${overview.journal ? 'on' : 'off'}`;
  } catch (error) {
    status.textContent = (error as Error).message;
  }
  route();
}

void main();
