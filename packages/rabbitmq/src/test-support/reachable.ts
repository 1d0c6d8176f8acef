/** Whether something listens at a URL's host and port (default 5672). */
import { connect } from 'node:net';

export function reachable(target: string): Promise<boolean> {
  const parsed = new URL(target);
  return new Promise((resolve) => {
    const socket = connect({ host: parsed.hostname, port: Number(parsed.port || 5672) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.setTimeout(2000, () => (socket.destroy(), resolve(false)));
  });
}
