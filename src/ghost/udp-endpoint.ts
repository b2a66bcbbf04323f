/**
 * Where a client's UDP traffic comes from and goes to. SAR announces its UDP port in the CONNECT,
 * but NAT usually rewrites it, so the first valid datagram from the client's IP teaches the real
 * endpoint. From then on the endpoint is pinned: a datagram carrying the client's id from another
 * port of the same IP — someone else behind the same NAT or on the same LAN, or a forged source
 * address — is dropped, and neither moves the ghost nor re-points its bulk updates.
 *
 * A pinned endpoint is given up only when it has been silent for `[timing] udp_rebind_silence_ms`
 * (SAR sends 20 updates a second, so silence means the NAT mapping changed), or at once for the
 * port the client announced over its own TCP connection, which only the client can have told us.
 */
import type { RemoteInfo } from 'node:dgram';
import type { GhostClient } from './client.js';

export type EndpointVerdict =
  /** From the pinned endpoint. */
  | 'known'
  /** The endpoint was learned or moved: bulk updates must follow it. */
  | 'learned'
  /** From another port while the pinned one is alive: drop it. */
  | 'foreign';

export function checkEndpoint(
  client: GhostClient,
  source: Pick<RemoteInfo, 'address' | 'port'>,
  now: number,
  silenceMs: number,
): EndpointVerdict {
  const same = client.udpPinned && client.udpPort === source.port && client.udpAddress === source.address;
  if (same) {
    client.udpLastHeardAt = now;
    return 'known';
  }
  const mayMove =
    !client.udpPinned || source.port === client.announcedUdpPort || now - client.udpLastHeardAt >= silenceMs;
  if (!mayMove) return 'foreign';
  client.udpPinned = true;
  client.udpAddress = source.address;
  client.udpPort = source.port;
  client.udpLastHeardAt = now;
  return 'learned';
}
