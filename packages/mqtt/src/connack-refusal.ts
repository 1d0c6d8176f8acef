/**
 * What a broker's refused CONNACK means, as an error `start` fails with. mqtt.js emits the refusal
 * as an `ErrorWithReasonCode` and stops reconnecting, so waiting for a connection after one is
 * pointless: the bridge fails at once with the reason code's name (MQTT 5 codes, and 3.1.1's return
 * codes 1–5). A refusal of the credentials (bad user name or password, not authorized, banned, bad
 * authentication method) is not retryable and says to check them; the message names the broker by
 * scheme, host and port only, so the password never appears in it.
 *
 * @example
 * ```ts
 * connackRefusal('mqtt://127.0.0.1:1883', new ErrorWithReasonCode('Connection refused: Not authorized', 135));
 * // TransportError: MQTT broker at mqtt://127.0.0.1:1883 refused the connection: not authorized
 * //   (CONNACK reason code 135); check the user name and password
 * ```
 * @module
 */
import { ReasonCodes, type ErrorWithReasonCode } from 'mqtt';
import { TransportError } from '@missive/core';

/** The CONNACK codes that refuse the client's credentials or identity (3.1.1: 4, 5; MQTT 5: 134, 135, 138, 140). */
const CREDENTIALS = new Set([4, 5, 134, 135, 138, 140]);

/** The error a refused CONNACK (`refusal.code`) from the broker at `where` (no credentials in it) becomes. */
export function connackRefusal(where: string, refusal: ErrorWithReasonCode): TransportError {
  const code = refusal.code;
  const name = (ReasonCodes as Record<number, string | undefined>)[code]?.toLowerCase() ?? 'an unknown reason';
  const credentials = CREDENTIALS.has(code);
  return new TransportError(
    `MQTT broker at ${where} refused the connection: ${name} (CONNACK reason code ${code})${credentials ? '; check the user name and password' : ''}`,
    { cause: refusal, retryable: !credentials },
  );
}
