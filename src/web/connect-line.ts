/**
 * The line a player types in SAR to join: `ghost_connect <host> <port>` (SAR's own syntax, the
 * port given even when it is the default 53000, so that nobody has to know the default).
 *
 * The host is `[http] public_address` when the operator set it ("ghost.example.org",
 * "ghost.example.org:53001" or "ghost.example.org 53001"), else the name the page was requested
 * by, which is how the visitor reached this machine, with the ghost server's own port.
 */
const HOST_WITH_PORT = /^(?:\[([0-9a-f:.]+)\]|([^\s:[\]]+))(?:[: ](\d{1,5}))?$/i;

export function connectLine(publicAddress: string, requestHost: string | undefined, ghostPort: number): string | null {
  const configured = publicAddress.trim();
  if (configured !== '') {
    const match = HOST_WITH_PORT.exec(configured.replace(/\s+/, ' '));
    if (match === null) return `ghost_connect ${configured}`;
    const host = match[1] ?? match[2]!;
    return `ghost_connect ${host} ${match[3] ?? ghostPort}`;
  }
  const match = HOST_WITH_PORT.exec(requestHost ?? '');
  if (match === null || ghostPort === 0) return null;
  return `ghost_connect ${match[1] ?? match[2]!} ${ghostPort}`;
}
