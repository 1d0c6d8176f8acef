/**
 * ioredis names the command of a reply error (`error.command = { name, args }`), and a failed
 * `AUTH` (or `HELLO … AUTH`) has the user and the password among its arguments. When the server
 * refuses the credentials on a reconnect (a rotated password), ioredis rejects every waiting
 * command with that same error object, so it would reach logs (a pino logger serialises `err` whole)
 * and error causes. It emits the error on the connection before any rejection is seen: the
 * transport's error listeners blank those arguments there, in place, once for everyone.
 *
 * @example
 * ```ts
 * redis.on('error', (error) => void hideCredentials(error));
 * ```
 * @module
 */

/** The commands whose arguments carry credentials. */
const CARRY_CREDENTIALS = new Set(['auth', 'hello']);

/** Blanks the arguments of `error.command` when it is an `AUTH` or `HELLO`; returns `error`. */
export function hideCredentials<E>(error: E): E {
  const command = (error as { command?: { name?: unknown; args?: unknown } } | null)?.command;
  if (command !== undefined && typeof command.name === 'string' && CARRY_CREDENTIALS.has(command.name.toLowerCase()))
    command.args = ['***'];
  return error;
}
