/**
 * Why a connection was turned away, as a code the log, the `clientRefused` event, the
 * `ghosting_refused_connections_total{reason}` metric and docs/errors.md all share. SAR shows a
 * refused player only a time-out, so the code and reason are for the operator.
 */
export type RefusalCode =
  /** More than `[limits] max_connections_per_ip` connections from one address. */
  | 'too_many_connections'
  /** No CONNECT within `[timing] handshake_timeout_ms`. */
  | 'handshake_timeout'
  /** A frame longer than `[limits] max_frame_bytes` before joining. */
  | 'oversized_frame'
  /** The first packet could not be decoded as a CONNECT request. */
  | 'bad_connect'
  /** The first packet was something else than CONNECT. */
  | 'not_connect'
  /** Too many packets while the CONNECT was still being admitted. */
  | 'flood'
  /** `refuse players` / `[server] accept_players = false`, or a countdown closed the door. */
  | 'not_accepting_players'
  /** `refuse spectators` / `[server] accept_spectators = false`. */
  | 'not_accepting_spectators'
  /** `[limits] max_clients` reached. */
  | 'server_full'
  /** An active ban on the name or the address, or the name is linked to a banned Discord member. */
  | 'banned'
  /** The whitelist is on and neither the name nor the address is on it. */
  | 'not_whitelisted'
  /** A plugin's `beforeConnect` refused, failed, timed out or answered something invalid. */
  | 'plugin'
  /** An admission check added by code embedding the server refused. */
  | 'refused'
  /** An admission check threw: refused rather than let in unchecked. */
  | 'admission_error';

export interface Refusal {
  code: RefusalCode;
  /** For the operator: "banned: cheating", "server full (32 clients)". */
  reason: string;
}

export const REFUSAL_CODES: readonly RefusalCode[] = [
  'too_many_connections',
  'handshake_timeout',
  'oversized_frame',
  'bad_connect',
  'not_connect',
  'flood',
  'not_accepting_players',
  'not_accepting_spectators',
  'server_full',
  'banned',
  'not_whitelisted',
  'plugin',
  'refused',
  'admission_error',
];

export function isRefusalCode(value: unknown): value is RefusalCode {
  return typeof value === 'string' && (REFUSAL_CODES as readonly string[]).includes(value);
}
