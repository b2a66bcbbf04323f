/**
 * The `lookup` for the server's UDP sockets (main and send threads). Every destination is an IP
 * literal taken from a socket, so the asynchronous resolver hop dgram would otherwise make for
 * each send is skipped; anything else still goes through DNS.
 */
import type { SocketOptions } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';

export const literalAddressLookup: NonNullable<SocketOptions['lookup']> = (host, options, callback) => {
  const family = isIP(host);
  if (family === 0) dnsLookup(host, options, callback);
  else callback(null, host, family);
};
