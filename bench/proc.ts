/**
 * Readers for Linux /proc: a process's CPU time and memory, and the kernel's counters for one
 * UDP socket (/proc/net/udp: receive queue and datagrams dropped because the buffer was full).
 * Each returns undefined when the file is gone (process exited) or unreadable.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

let clockTicks: number | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (almost always 100). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
      clockTicks = Number.isFinite(value) && value > 0 ? value : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** utime + stime of a process (all its threads), in seconds. */
export function readCpuSeconds(pid: number): number | undefined {
  const text = readText(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // The command name (field 2) may contain spaces; everything after its closing ')' is plain.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clockTicksPerSecond();
}

export interface MemoryInfo {
  rssKb: number;
  peakRssKb: number;
  threads: number;
}

export function readMemory(pid: number): MemoryInfo | undefined {
  const text = readText(`/proc/${pid}/status`);
  if (text === undefined) return undefined;
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
    return match ? Number(match[1]) : NaN;
  };
  return { rssKb: field('VmRSS'), peakRssKb: field('VmHWM'), threads: field('Threads') };
}

export interface UdpSocketInfo {
  rxQueueBytes: number;
  drops: number;
}

function hexIpv4(address: string): string {
  // /proc/net/udp prints the address as the in-memory u32, i.e. byte-reversed on little-endian.
  return address
    .split('.')
    .map((octet) => Number(octet).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
}

/** Kernel counters of the IPv4 UDP socket bound to address:port, if there is one. */
export function readUdpSocket(address: string, port: number): UdpSocketInfo | undefined {
  return readUdpSockets([{ address, port }])[0];
}

/**
 * The same for several sockets in one read of /proc/net/udp. The file has a line per UDP socket
 * on the machine, and the kernel takes ~20 ms to produce it with 4,000 sockets: this blocking
 * version is for outside the measurement window, `readUdpSocketsAsync` (threadpool) for inside.
 */
export function readUdpSockets(
  endpoints: ReadonlyArray<{ address: string; port: number }>,
): Array<UdpSocketInfo | undefined> {
  return parseUdpSockets(readText('/proc/net/udp'), endpoints);
}

export async function readUdpSocketsAsync(
  endpoints: ReadonlyArray<{ address: string; port: number }>,
): Promise<Array<UdpSocketInfo | undefined>> {
  let text: string | undefined;
  try {
    text = await readFile('/proc/net/udp', 'utf8');
  } catch {
    text = undefined;
  }
  return parseUdpSockets(text, endpoints);
}

/** Finds each socket's line by searching rather than splitting thousands of lines. */
function parseUdpSockets(
  text: string | undefined,
  endpoints: ReadonlyArray<{ address: string; port: number }>,
): Array<UdpSocketInfo | undefined> {
  if (text === undefined) return endpoints.map(() => undefined);
  return endpoints.map(({ address, port }) => {
    const local = ` ${hexIpv4(address)}:${port.toString(16).padStart(4, '0').toUpperCase()} `;
    const at = text.indexOf(local);
    if (at < 0) return undefined;
    const end = text.indexOf('\n', at);
    const fields = text
      .slice(at, end < 0 ? undefined : end)
      .trim()
      .split(/\s+/);
    // local rem st tx_queue:rx_queue tr tm->when retrnsmt uid timeout inode ref pointer drops
    const rxQueue = fields[3]?.split(':')[1];
    const drops = fields[11];
    return { rxQueueBytes: parseInt(rxQueue ?? '0', 16), drops: Number(drops ?? 0) };
  });
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd), if readable. */
export function readFdCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}
