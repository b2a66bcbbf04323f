/**
 * Coalesces TCP writes per event-loop turn. The first write to a socket in a turn corks it; all
 * corked sockets are uncorked together once the turn's I/O callbacks have run (setImmediate, not
 * a timer, so replies such as the countdown "go" are not held back), and whatever a socket was
 * sent in that turn leaves in one writev: a burst of relays, or several players' joins and
 * departures handled together, cost each receiver one system call instead of one per packet.
 *
 * Backlog is judged after the flush, on what the kernel would not take, so a large write that
 * is merely in flight (a confirm listing thousands of players) is not mistaken for a client that
 * stopped reading.
 */
import type { Socket } from 'node:net';

export interface BatchedConnection {
  readonly socket: Socket;
  corked: boolean;
}

export class WriteBatcher<T extends BatchedConnection> {
  private pending: T[] = [];
  private scheduled = false;

  constructor(private readonly afterFlush: (connection: T) => void) {}

  write(connection: T, bytes: Buffer): void {
    const socket = connection.socket;
    if (socket.destroyed) return;
    if (!connection.corked) {
      connection.corked = true;
      socket.cork();
      this.pending.push(connection);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    }
    socket.write(bytes);
  }

  /** Uncorks every socket written to since the last flush. */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (const connection of batch) {
      connection.corked = false;
      if (connection.socket.destroyed) continue;
      connection.socket.uncork();
      this.afterFlush(connection);
    }
  }
}
