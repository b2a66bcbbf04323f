/**
 * The sockets on the server's one port: the send threads' UDP sockets, the main UDP socket, and
 * the TCP listener — bound in that order. The send threads go first because Linux delivers
 * incoming unicast datagrams to the socket bound last, which must be the main one. TCP goes last
 * because a listening socket is a promise: a SAR that connects must find everything that serves
 * it already up, not a connection reset while threads are still starting.
 *
 * Port 0 picks a port free for both TCP and UDP: a candidate is taken from the kernel, and if
 * anything is already bound to it the whole sequence is undone and tried again.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server as TcpServer, type Socket } from 'node:net';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { FanoutBindError, UdpFanout } from './udp-fanout.js';
import { literalAddressLookup } from './udp-lookup.js';

export class ServerStartError extends Error {
  override readonly name = 'ServerStartError';
}

const PORT_ATTEMPTS = 20;

export interface TransportOptions {
  hostname: string;
  /** 0: any port free for both TCP and UDP. */
  port: number;
  limits: Pick<Config['limits'], 'udp_receive_buffer_bytes' | 'udp_send_buffer_bytes'>;
  sendThreads: number;
  log: Logger;
  onConnection(socket: Socket): void;
  onDatagram(datagram: Buffer, source: RemoteInfo): void;
  /** Called with the UDP side bound, just before TCP starts listening. */
  beforeListen(udp: UdpSocket, fanout: UdpFanout | undefined): void;
}

export interface Transport {
  readonly port: number;
  readonly tcp: TcpServer;
  readonly udp: UdpSocket;
  readonly fanout: UdpFanout | undefined;
  /** Stops listening for TCP (open connections stay). */
  stopListening(): Promise<void>;
  /** Closes the UDP socket and the send threads. */
  closeDatagrams(): Promise<void>;
}

export async function openTransport(options: TransportOptions): Promise<Transport> {
  const { hostname, port } = options;
  const attempts = port === 0 ? PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    // Checked without SO_REUSEADDR, so a port another server (even another ghosting) holds is
    // found in use here, before a shared bind could take datagrams meant for it.
    const candidate = await probeUdpPort(hostname, port);
    let fanout: UdpFanout | undefined;
    let udp: UdpSocket | undefined;
    try {
      fanout = await startFanout(options, candidate);
      udp = await bindUdp(options, candidate, fanout !== undefined);
      options.beforeListen(udp, fanout);
      const tcp = await listenTcp(options, candidate);
      return {
        port: candidate,
        tcp,
        udp,
        fanout,
        stopListening: () => new Promise<void>((resolve) => tcp.close(() => resolve())),
        closeDatagrams: async () => {
          await new Promise<void>((resolve) => udp!.close(() => resolve()));
          await fanout?.close();
        },
      };
    } catch (error) {
      if (udp !== undefined) await new Promise<void>((resolve) => udp!.close(() => resolve()));
      await fanout?.close();
      const code = error instanceof FanoutBindError ? error.code : (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' && attempt < attempts) continue;
      const what = error instanceof TcpListenError ? 'listen on TCP' : 'bind UDP';
      throw new ServerStartError(`cannot ${what} ${hostname}:${candidate}: ${describeSocketError(error)}`);
    }
  }
}

export function udpType(hostname: string): 'udp4' | 'udp6' {
  return isIP(hostname) === 6 || hostname === '::' ? 'udp6' : 'udp4';
}

/** Binds `port` (0: any) without SO_REUSEADDR and lets it go: the port, if nothing holds it. */
async function probeUdpPort(hostname: string, port: number): Promise<number> {
  const probe = createSocket({ type: udpType(hostname), lookup: literalAddressLookup });
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind(port, hostname, () => resolve());
    });
    return probe.address().port;
  } catch (error) {
    throw new ServerStartError(`cannot bind UDP ${hostname}:${port}: ${describeSocketError(error)}`);
  } finally {
    await new Promise<void>((resolve) => {
      try {
        probe.close(() => resolve());
      } catch {
        resolve(); // never bound: nothing to close
      }
    });
  }
}

async function startFanout(options: TransportOptions, port: number): Promise<UdpFanout | undefined> {
  if (options.sendThreads === 0) return undefined;
  return UdpFanout.start({
    threads: options.sendThreads,
    type: udpType(options.hostname),
    hostname: options.hostname,
    port,
    sendBufferSize: options.limits.udp_send_buffer_bytes,
    log: options.log,
    onDatagram: options.onDatagram,
  });
}

function bindUdp(options: TransportOptions, port: number, shared: boolean): Promise<UdpSocket> {
  const { limits } = options;
  const socket = createSocket({
    type: udpType(options.hostname),
    // The send threads share the port (see udp-fanout.ts).
    reuseAddr: shared,
    lookup: literalAddressLookup,
    ...(limits.udp_receive_buffer_bytes > 0 ? { recvBufferSize: limits.udp_receive_buffer_bytes } : {}),
    ...(limits.udp_send_buffer_bytes > 0 ? { sendBufferSize: limits.udp_send_buffer_bytes } : {}),
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, options.hostname, () => {
      socket.off('error', reject);
      socket.on('error', (error) => options.log.debug({ err: error }, 'UDP send error'));
      socket.on('message', options.onDatagram);
      resolve(socket);
    });
  });
}

class TcpListenError extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super(cause.message);
  }
  get code(): string | undefined {
    return this.cause.code;
  }
}

function listenTcp(options: TransportOptions, port: number): Promise<TcpServer> {
  const server = createServer({ noDelay: true }, options.onConnection);
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.close();
      reject(new TcpListenError(error));
    };
    server.once('error', onError);
    server.listen({ port, host: options.hostname, exclusive: true }, () => {
      server.off('error', onError);
      server.on('error', (error) => options.log.error({ err: error }, 'TCP listener error'));
      resolve(server);
    });
  });
}

function describeSocketError(error: unknown): string {
  const cause = error instanceof TcpListenError ? error.cause : error;
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'the port is already in use';
  if (code === 'EACCES') return 'permission denied (ports below 1024 need privileges)';
  if (code === 'EADDRNOTAVAIL') return 'that address is not on this machine';
  return (cause as Error).message ?? String(cause);
}
