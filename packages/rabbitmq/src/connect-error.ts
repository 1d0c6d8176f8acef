/**
 * Turns a failed first connect into one clear error. A wrong virtual host becomes a
 * `ConfigurationError` naming it and saying how to fix it, instead of amqplib's
 * "Expected ConnectionOpenOk; got <ConnectionClose channel:0>".
 *
 * @example
 * ```ts
 * throw connectError(error, options.url, redactUrl(options.url));
 * ```
 * @module
 */
import { ConfigurationError, TransportError, type MissiveError } from '@missive/core';

/**
 * The error of a failed first connect. A virtual host that does not exist or that the user may not
 * open is refused by the broker at the handshake's last step (Connection.Open, reply 530
 * NOT_ALLOWED); amqplib drops that reply's code and text and reports only the step it expected
 * ("Expected ConnectionOpenOk"), so that step is what identifies it here.
 */
export function connectError(error: Error, url: string, safeUrl: string): MissiveError {
  if (error.message.startsWith('Expected ConnectionOpenOk')) {
    const parsed = new URL(url);
    const vhost = parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/';
    const user = decodeURIComponent(parsed.username) || 'guest';
    return new ConfigurationError(
      `RabbitMQ at ${safeUrl} refused to open virtual host "${vhost}": it does not exist, or user "${user}" has no permission on it. ` +
        `Fix the URL's path (the vhost; none means "/"), or create it: rabbitmqctl add_vhost ${vhost} && rabbitmqctl set_permissions -p ${vhost} ${user} '.*' '.*' '.*'`,
      { cause: error },
    );
  }
  return new TransportError(`cannot connect to RabbitMQ at ${safeUrl}: ${error.message}`, { cause: error, retryable: false });
}
