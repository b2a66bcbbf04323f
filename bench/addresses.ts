/**
 * Loopback addresses for simulated clients. Linux routes all of 127.0.0.0/8 to `lo`, so every
 * client can have an IP of its own (the server's per-IP connection cap then never applies).
 * Probes use 127.0.0.10 and up; load-generator clients 127.1.0.1 and up, skipping .0 and .255
 * in the last octet. The server listens on 127.0.0.1.
 */

export const SERVER_HOST = '127.0.0.1';
/** The countdown pinger's address (pinger.ts). */
export const PINGER_ADDRESS = '127.0.0.9';

/** The probes' map; with `--maps k`, load client i plays map i mod k, and map 0 is this one. */
export const PROBE_MAP = 'sp_a2_bench';

export function benchMap(index: number, maps: number): string {
  const map = maps > 1 ? index % maps : 0;
  return map === 0 ? PROBE_MAP : `${PROBE_MAP}_${map}`;
}

export function probeAddress(index: number): string {
  if (index < 0 || index >= 200) throw new RangeError(`probe index ${index} out of range (0..199)`);
  return `127.0.0.${10 + index}`;
}

const PER_LAST_OCTET = 254;

export function loadAddress(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= PER_LAST_OCTET * 256 * 200) {
    throw new RangeError(`client index ${index} out of range`);
  }
  const last = 1 + (index % PER_LAST_OCTET);
  const third = Math.floor(index / PER_LAST_OCTET) % 256;
  const second = 1 + Math.floor(index / (PER_LAST_OCTET * 256));
  return `127.${second}.${third}.${last}`;
}
