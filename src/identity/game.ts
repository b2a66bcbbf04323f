/**
 * What linking changes in game:
 *
 * - Protected names (`[identity] protect_linked_names`): a linked name that connects from an
 *   address its owner has not confirmed joins, is told why it must wait, and its owner is asked
 *   (a Discord DM with Confirm / Deny). Deny, no answer within `confirm_timeout_s`, or no way to
 *   ask (Discord down, DMs closed) disconnects it: a protected name fails closed. Until then it
 *   enters no race.
 * - Chat commands run at the player's Discord level when the player is linked and confirmed
 *   (`Identity.levelOf`); a linked player refused for an unconfirmed address is offered the
 *   confirmation instead of a bare "not allowed".
 */
import type { ClientInfo, EventBus } from '../events.js';
import type { GhostServer } from '../ghost/server.js';
import type { Logger } from '../logger.js';
import { oneLine } from '../text/printable.js';
import type { Identity } from './identity.js';

export interface IdentityInGameOptions {
  identity: Identity;
  server: GhostServer;
  bus: EventBus;
  /** `[identity] confirm_timeout_s`, for telling the player how long it may take. */
  confirmTimeoutSeconds: number;
  logger: Logger;
}

export class IdentityInGame {
  private readonly log: Logger;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: IdentityInGameOptions) {
    this.log = options.logger.child({ module: 'identity' });
    this.unsubscribe = options.bus.on('clientConnected', ({ client }) => this.connected(client));
  }

  stop(): void {
    this.unsubscribe();
  }

  /** Why a player may not enter a race now, or undefined (for the race director). */
  entryBarrier(clientId: number): string | undefined {
    const { identity } = this.options;
    if (!identity.protectLinkedNames || identity.trustOf(clientId) !== 'unconfirmed') return undefined;
    return "this name's owner has not confirmed your connection yet";
  }

  /** The extra line for a chat command refused for its level. */
  forbidden(client: ClientInfo): string | undefined {
    const { identity } = this.options;
    if (identity.trustOf(client.id) !== 'unconfirmed') return undefined;
    void identity.requestConfirmation(client.id, { disconnect: false }).then((outcome) => {
      if (outcome === 'unavailable' && this.options.server.getClient(client.id) !== undefined)
        this.options.server.sendServerMessage(client.id, 'The owner of this name could not be asked (Discord).');
    });
    return oneLine`${client.name} is linked, but not from this address: its owner must confirm it on Discord first (a message was sent).`;
  }

  private connected(client: ClientInfo): void {
    const { identity, server, confirmTimeoutSeconds } = this.options;
    if (!identity.protectLinkedNames || identity.trustOf(client.id) !== 'unconfirmed') return;
    server.sendServerMessage(
      client.id,
      oneLine`${client.name} is linked to a Discord account: its owner must confirm this connection within ${confirmTimeoutSeconds} s. Until then you are in no race.`,
    );
    void identity.requestConfirmation(client.id).then((outcome) => {
      if (outcome !== 'unavailable') return;
      const now = server.getClient(client.id);
      if (now === undefined || now.name !== client.name || identity.trustOf(client.id) !== 'unconfirmed') return;
      const reason = oneLine`the owner of ${client.name} could not be asked to confirm this connection`;
      this.log.info({ clientId: client.id, name: client.name }, `protected name disconnected: ${reason}`);
      server.sendServerMessage(client.id, `Disconnected: ${reason}.`);
      server.kick(client.id, reason);
    });
  }
}
