/**
 * A lightweight simulated SAR client for load generation: raw sockets and the project's codec,
 * without SimClient's per-packet decoding and event objects.
 *
 * - TCP from its own loopback address: CONNECT request, the confirm (only its id is read), and
 *   HEART_BEAT answers; every other TCP packet (CONNECT/DISCONNECT broadcasts...) is skipped by
 *   header byte.
 * - UDP from the same address, connected to the server: UPDATEs with a moving position.
 *
 * The bulk updates the server sends to this client are the expensive part to receive. By default
 * they are left unread: Node's reading of the socket is stopped, so the kernel keeps at most a
 * few datagrams in a small receive buffer and discards the rest. The server still pays the full
 * cost of sending every one of them. With `readUdp` they are read and discarded in JavaScript.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as connectTcp, type Socket } from 'node:net';
import { DATA_GHOST_SIZE, encodeDataGhost } from '../src/ghost/protocol/data-ghost.js';
import { FrameDecoder, frame } from '../src/ghost/protocol/framing.js';
import { encodeClientPacket, Header, type ClientPacket } from '../src/ghost/protocol/packets.js';

export interface LightClientOptions {
  host: string;
  port: number;
  localAddress: string;
  name: string;
  index: number;
  readUdp: boolean;
  connectTimeoutMs: number;
  map: string;
}

export interface LightClientEvents {
  onHeartbeat(): void;
  onUdpError(): void;
  onUdpBytes(bytes: number): void;
  /** The TCP connection closed; `expected` is false when this client did not close it. */
  onClose(client: LightClient, expected: boolean, reason: string): void;
  /**
   * A countdown setup arrived (`--race`); when this is given the client also confirms it at once,
   * as SAR does. Without it countdown setups are skipped like any other packet.
   */
  onCountdown?(client: LightClient, durationSeconds: number): void;
}

const UPDATE_SIZE = 1 + 4 + DATA_GHOST_SIZE;
export const UNREAD_RECEIVE_BUFFER = 4096;

/** Stops Node from reading a dgram socket (no public API for it); false if not possible. */
export function stopReading(socket: UdpSocket): boolean {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (symbol === undefined) return false;
  const state = (socket as unknown as Record<symbol, { handle?: { recvStop?: () => number } } | undefined>)[symbol];
  const recvStop = state?.handle?.recvStop;
  if (typeof recvStop !== 'function') return false;
  return recvStop.call(state!.handle) === 0;
}

export class LightClient {
  id = 0;
  closing = false;
  closed = false;
  /** Whether bulk updates are really left unread (false if stopping the reads failed). */
  unread = false;
  private readonly centre: { x: number; y: number };
  private readonly phase: number;

  private constructor(
    readonly options: LightClientOptions,
    private readonly tcp: Socket,
    private readonly udp: UdpSocket,
  ) {
    const index = options.index;
    this.centre = { x: (index % 64) * 256, y: Math.floor(index / 64) * 256 };
    this.phase = (index * 0.618) % (2 * Math.PI);
  }

  static async connect(options: LightClientOptions, events: LightClientEvents): Promise<LightClient> {
    const udp = createSocket({
      type: 'udp4',
      ...(options.readUdp ? { recvBufferSize: 1024 * 1024 } : { recvBufferSize: UNREAD_RECEIVE_BUFFER }),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address: options.localAddress, port: 0, exclusive: true }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.connect(options.port, options.host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      udp.close();
      throw error;
    }
    udp.on('error', () => events.onUdpError());
    const tcp = connectTcp({
      host: options.host,
      port: options.port,
      localAddress: options.localAddress,
      noDelay: true,
    });
    const client = new LightClient(options, tcp, udp);
    if (options.readUdp) {
      udp.on('message', (datagram) => events.onUdpBytes(datagram.length));
    } else {
      client.unread = stopReading(udp);
      if (!client.unread) udp.on('message', (datagram) => events.onUdpBytes(datagram.length));
    }
    try {
      await client.handshake(events);
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  private handshake(events: LightClientEvents): Promise<void> {
    const { options, tcp } = this;
    return new Promise((resolve, reject) => {
      let joined = false;
      let closeReason = 'connection closed by the server';
      const timer = setTimeout(() => {
        reject(new Error(`no connect confirm within ${options.connectTimeoutMs} ms`));
        this.close();
      }, options.connectTimeoutMs);
      const decoder = new FrameDecoder(256 * 1024 * 1024);

      tcp.on('connect', () => {
        const request = encodeClientPacket({
          type: 'connect',
          udpPort: this.udp.address().port,
          name: options.name,
          ghost: this.ghost(0),
          model: 'models/props/food_can/food_can_open.mdl',
          map: options.map,
          tcpOnly: false,
          color: { r: 255, g: 128, b: 0 },
          spectator: false,
        });
        tcp.write(frame(request));
      });
      tcp.on('data', (chunk: Buffer) => {
        const error = decoder.push(chunk, (payload) => {
          if (!joined) {
            if (payload.length < 8) {
              closeReason = 'short connect confirm';
              tcp.destroy();
              return;
            }
            joined = true;
            this.id = payload.readUInt32BE(0);
            clearTimeout(timer);
            resolve();
            return;
          }
          if (payload[0] === Header.HeartBeat && payload.length >= 9) {
            // Answer with the same token at once, as SAR does.
            const answer = Buffer.allocUnsafe(4 + 9);
            answer.writeUInt32BE(9, 0);
            answer.writeUInt8(Header.HeartBeat, 4);
            answer.writeUInt32BE(this.id, 5);
            payload.copy(answer, 9, 5, 9);
            tcp.write(answer);
            events.onHeartbeat();
          } else if (
            payload[0] === Header.Countdown &&
            payload.length >= 10 &&
            payload[5] === 0 &&
            events.onCountdown !== undefined
          ) {
            // A setup (step 0: u8 header, u32 id 0, u8 step, u32 duration, strings): confirm it
            // like SAR, then count down locally.
            this.sendTcp({ type: 'countdown_confirm', id: this.id, step: 1 });
            events.onCountdown(this, payload.readUInt32BE(6));
          }
        });
        if (error !== undefined) {
          closeReason = `oversized frame from server (${error.declared} bytes)`;
          tcp.destroy();
        }
      });
      tcp.on('error', (error) => {
        closeReason = `socket error: ${error.message}`;
        if (!joined) {
          clearTimeout(timer);
          reject(error);
        }
      });
      tcp.on('close', () => {
        const expected = this.closing;
        this.closed = true;
        this.closeUdp();
        if (!joined) {
          clearTimeout(timer);
          reject(new Error(closeReason));
          return;
        }
        events.onClose(this, expected, closeReason);
      });
    });
  }

  /** The DataGhost for time `t` (seconds): walking in a circle around this client's own spot. */
  private ghost(t: number): Buffer {
    const angle = this.phase + t * 1.5;
    return encodeDataGhost({
      position: { x: this.centre.x + 100 * Math.cos(angle), y: this.centre.y + 100 * Math.sin(angle), z: 64 },
      angles: { x: 0, y: (angle * 180) / Math.PI, z: 0 },
      viewOffset: 64,
      grounded: true,
    });
  }

  /** Sends one UPDATE over UDP; `t` is seconds since the generator started. */
  sendUpdate(t: number): void {
    if (this.closed || this.closing) return;
    const packet = Buffer.allocUnsafe(UPDATE_SIZE);
    const angle = this.phase + t * 1.5;
    packet.writeUInt8(Header.Update, 0);
    packet.writeUInt32BE(this.id, 1);
    packet.writeFloatLE(this.centre.x + 100 * Math.cos(angle), 5);
    packet.writeFloatLE(this.centre.y + 100 * Math.sin(angle), 9);
    packet.writeFloatLE(64, 13);
    packet.writeFloatLE(0, 17);
    packet.writeFloatLE((angle * 180) / Math.PI, 21);
    packet.writeFloatLE(0, 25);
    packet.writeUInt8(64 | 0x80, 29);
    this.udp.send(packet);
  }

  /** A packet over TCP (chat, map changes, finishes: rare next to the UPDATEs, so encoded plainly). */
  sendTcp(packet: ClientPacket): void {
    if (this.closed || this.closing || this.tcp.destroyed) return;
    this.tcp.write(frame(encodeClientPacket(packet)));
  }

  sendChat(text: string): void {
    this.sendTcp({ type: 'message', id: this.id, text });
  }

  /** MAP_CHANGE with SAR's split fields (0xFFFFFFFF = no split yet). */
  sendMapChange(map: string, ticks: number, ticksTotal: number): void {
    this.sendTcp({ type: 'map_change', id: this.id, map, ticks, ticksTotal });
  }

  sendFinish(time: string): void {
    this.sendTcp({ type: 'speedrun_finish', id: this.id, time });
  }

  close(): void {
    this.closing = true;
    if (!this.tcp.destroyed) this.tcp.destroy();
    this.closeUdp();
  }

  private udpClosed = false;

  private closeUdp(): void {
    if (this.udpClosed) return;
    this.udpClosed = true;
    try {
      this.udp.close();
    } catch {
      // Already closed.
    }
  }
}
