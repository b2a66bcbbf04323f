/**
 * A send thread for the tick's bulk updates (see `udp-fanout.ts`). It owns a UDP socket bound
 * to the server's own address and port, so its datagrams leave from the port clients talk to
 * and NAT mappings hold; it keeps the UDP endpoint of each client it serves, and sends each
 * batch it is given to the clients listed with it.
 */
import { createSocket } from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import type { FanoutReport, FanoutRequest, FanoutThreadData } from './udp-fanout.js';
import { literalAddressLookup } from './udp-lookup.js';

const port = parentPort!;
const options = workerData as FanoutThreadData;
const finished = new Int32Array(options.finished);
const endpoints = new Map<number, { address: string; port: number }>();
/** Send errors since the last report: reported at most once a second so a bad network cannot flood the main thread. */
let unreportedErrors = 0;
let lastError = '';
let reportTimer: NodeJS.Timeout | undefined;

const socket = createSocket({
  type: options.type,
  reuseAddr: true,
  lookup: literalAddressLookup,
  ...(options.sendBufferSize > 0 ? { sendBufferSize: options.sendBufferSize } : {}),
});

const post = (report: FanoutReport, transfer?: ArrayBuffer[]) => port.postMessage(report, transfer);

// The kernel normally gives incoming datagrams to the main thread's socket (bound last); any
// that land here are handed over, so nothing a client sends is lost either way.
socket.on('message', (datagram, source) => {
  const bytes = new Uint8Array(datagram).buffer as ArrayBuffer;
  post({ kind: 'datagram', bytes, address: source.address, port: source.port, family: source.family }, [bytes]);
});

port.on('message', (request: FanoutRequest) => {
  switch (request.kind) {
    case 'endpoint':
      endpoints.set(request.id, { address: request.address, port: request.port });
      break;
    case 'forget':
      endpoints.delete(request.id);
      break;
    case 'send':
      for (const id of request.ids) {
        const endpoint = endpoints.get(id);
        if (endpoint === undefined) continue;
        for (const datagram of request.datagrams) {
          try {
            socket.send(datagram, endpoint.port, endpoint.address);
          } catch (error) {
            // dgram throws at once for arguments it rejects; the other clients still get theirs.
            countSendError(error as Error);
          }
        }
      }
      // The main thread reads this to tell whether this thread keeps up with the tick.
      Atomics.add(finished, options.index, 1);
      break;
  }
});

function countSendError(error: Error): void {
  unreportedErrors++;
  lastError = error.message;
  reportTimer ??= setTimeout(() => {
    reportTimer = undefined;
    post({ kind: 'send_errors', count: unreportedErrors, message: lastError });
    unreportedErrors = 0;
  }, 1000);
}

const onBindError = (error: NodeJS.ErrnoException) =>
  post({ kind: 'bind_failed', code: error.code, message: error.message });
socket.once('error', onBindError);
socket.bind({ port: options.port, address: options.hostname }, () => {
  socket.off('error', onBindError);
  socket.on('error', countSendError);
  post({ kind: 'ready' });
});
