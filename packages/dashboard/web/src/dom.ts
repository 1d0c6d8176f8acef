/**
 * The UI's few tools: `h` builds elements (text is always set as text, never as HTML), `api` calls
 * the dashboard's JSON API with the access token, and the token's keeping: taken from the URL's
 * fragment once, then held in sessionStorage.
 *
 * @example
 * ```ts
 * const services = await api<ServicesAnswer>('/api/services');
 * view.replaceChildren(h('h2', {}, 'Services'));
 * ```
 * @module
 */

type Child = Node | string | number | null | undefined | false;
/** An attribute's value: text, a number, a flag, or a listener for `on…`. */
type Attr = string | number | boolean | null | undefined | ((event: never) => unknown);

/** An element with attributes (`on…` functions become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value as EventListener);
    else if (name === 'value' && (el instanceof HTMLInputElement || el instanceof HTMLSelectElement)) el.value = String(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'number' ? String(child) : child);
  }
  return el;
}

const TOKEN_KEY = 'missive-dashboard-token';

/**
 * The access token: from the fragment (`#token=…`, or `#conversations?q=o-1&token=…`), then removed
 * from the address bar with the rest of the fragment kept; else from this tab's storage.
 */
export function token(): string {
  const match = /([#?&])token=([^&]*)/.exec(location.hash);
  if (match !== null) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[2]!));
    const rest = location.hash
      .replace(/[?&]?token=[^&]*/, '')
      .replace(/^#[?&]?/, '#')
      .replace(/\?&/, '?');
    history.replaceState(null, '', location.pathname + location.search + (rest === '#' ? '' : rest));
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

/** An error the API answered with. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Calls the API; a JSON body makes it a POST. */
export async function api<T>(path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token()}` };
  const init: RequestInit = { headers };
  if (body !== undefined) {
    init.method = 'POST';
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const value = (await res.json()) as T & { error?: { message: string } };
  if (!res.ok) throw new ApiError(res.status, value.error?.message ?? res.statusText);
  return value;
}

/** A message box. */
export function message(kind: 'error' | 'info', text: string): HTMLElement {
  return h('div', { class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** "3 s ago". */
export function ago(at: number): string {
  const s = Math.max(0, Math.round((Date.now() - at) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}
