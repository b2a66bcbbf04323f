/**
 * Commands about who is on the server: list, kick, ban, unban and the whitelist, in both
 * GhostServer generations (`kick name X` and `disconnect X`, `ban id 3` and `ban_id 3`).
 *
 * Acting by name or id touches exactly those clients; only an explicit `... ip <address>` acts
 * on an address, because players behind one NAT or at one LAN party share it. For the same
 * reason a ban by name or id stores the name, not the address.
 */
import { isIP } from 'node:net';
import type { ClientInfo } from '../events.js';
import { oneLine } from '../text/printable.js';
import { labelOf } from '../identity/commands.js';
import { describeClient, describeClients, type AdminContext } from './context.js';
import { fail, ok, type CommandDefinition, type CommandResult, type Invoker } from './registry.js';

type Definition = CommandDefinition<AdminContext>;
type Target = { by: 'name' | 'id' | 'ip'; value: string | number };

const REASON = { name: 'reason', type: 'rest', optional: true } as const;

/** The connected clients a target names, or a failure saying why there are none. */
function findTargets(context: AdminContext, target: Target): ClientInfo[] | CommandResult {
  const clients = context.server.listClients();
  switch (target.by) {
    case 'id': {
      const client = context.server.getClient(Number(target.value));
      return client ? [client] : fail('not_found', `no client with id ${target.value}`);
    }
    case 'name': {
      const named = clients.filter((client) => client.name === target.value);
      return named.length > 0 ? named : fail('not_found', oneLine`no client named "${target.value}"`);
    }
    case 'ip': {
      if (isIP(String(target.value)) === 0)
        return fail('bad_arguments', oneLine`"${target.value}" is not an IP address`);
      const atAddress = clients.filter((client) => client.address === target.value);
      return atAddress.length > 0 ? atAddress : fail('not_found', `no client connected from ${target.value}`);
    }
  }
}

function kick(context: AdminContext, target: Target, reason: string | undefined): CommandResult {
  const targets = findTargets(context, target);
  if (!Array.isArray(targets)) return targets;
  for (const client of targets) context.server.kick(client.id, reason ? `kicked: ${reason}` : 'kicked');
  return ok(`Kicked ${describeClients(targets)}`, { kicked: targets });
}

const DURATION_UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Splits an optional leading duration off a ban reason: `7d cheating` is a 7-day ban for
 * "cheating"; `cheating` is a permanent one.
 */
function readDuration(text: string | undefined): { expiresAt?: Date; reason?: string } {
  const match = text === undefined ? null : /^(\d{1,6})([mhdw])(?:\s+([\s\S]*))?$/.exec(text);
  if (match === null) return text === undefined ? {} : { reason: text };
  const expiresAt = new Date(Date.now() + Number(match[1]) * DURATION_UNITS[match[2]!]!);
  return match[3] ? { expiresAt, reason: match[3] } : { expiresAt };
}

async function ban(
  context: AdminContext,
  target: Target,
  reasonText: string | undefined,
  invoker: Invoker,
): Promise<CommandResult> {
  const { expiresAt, reason } = readDuration(reasonText);
  let banned: { ip?: string; name?: string };
  let targets: ClientInfo[] = [];
  if (target.by === 'ip') {
    const ip = String(target.value);
    if (isIP(ip) === 0) return fail('bad_arguments', oneLine`"${ip}" is not an IP address`);
    banned = { ip };
  } else if (target.by === 'id') {
    const found = findTargets(context, target);
    if (!Array.isArray(found)) return found;
    targets = found;
    banned = { name: found[0]!.name };
  } else {
    banned = { name: String(target.value) };
  }
  // Answered only once committed (a DatabaseError otherwise): a ban that is reported survives a crash.
  const record = await context.store.bans.add({
    ...banned,
    ...(reason !== undefined ? { reason } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    createdBy: `${invoker.source}:${invoker.name}`,
  });
  // Looked up once the ban is stored, so whoever connected meanwhile is kicked too.
  if (target.by !== 'id') {
    targets = context.server
      .listClients()
      .filter((client) => (banned.ip !== undefined ? client.address === banned.ip : client.name === banned.name));
  }
  for (const client of targets) context.server.kick(client.id, reason ? `banned: ${reason}` : 'banned');
  const what = banned.ip !== undefined ? `address ${banned.ip}` : oneLine`name "${banned.name}"`;
  const kicked = targets.length > 0 ? `; kicked ${describeClients(targets)}` : '';
  const until = expiresAt ? ` until ${expiresAt.toISOString()}` : '';
  return ok(`Banned ${what}${until}${reason ? oneLine` (${reason})` : ''}${kicked}`, { ban: record, kicked: targets });
}

export const playerCommands: Definition[] = [
  {
    name: 'list',
    summary: 'List connected clients: id, name, address, map',
    permission: 'moderator',
    run(context) {
      const clients = context.server.listClients();
      if (clients.length === 0) return ok('No clients connected.', { clients });
      const lines = clients.map(describeClient);
      return ok(`${clients.length} client${clients.length === 1 ? '' : 's'}:\n${lines.join('\n')}`, { clients });
    },
  },

  // --- kick ---------------------------------------------------------------------------------
  {
    name: 'kick name',
    summary: 'Disconnect every client with this exact name (quote names with spaces)',
    arguments: [{ name: 'name', type: 'word', complete: 'player-name' }, REASON],
    permission: 'moderator',
    mutates: true,
    run: (context, args) => kick(context, { by: 'name', value: String(args.name) }, args.reason as string | undefined),
  },
  {
    name: 'kick id',
    summary: 'Disconnect the client with this id',
    arguments: [{ name: 'id', type: 'integer', min: 1, complete: 'player-id' }, REASON],
    permission: 'moderator',
    mutates: true,
    run: (context, args) => kick(context, { by: 'id', value: Number(args.id) }, args.reason as string | undefined),
  },
  {
    name: 'kick ip',
    summary: 'Disconnect every client connected from this IP address',
    arguments: [{ name: 'ip', type: 'word' }, REASON],
    permission: 'moderator',
    mutates: true,
    run: (context, args) => kick(context, { by: 'ip', value: String(args.ip) }, args.reason as string | undefined),
  },
  {
    name: 'disconnect',
    summary: 'Disconnect every client with this name (same as kick name)',
    arguments: [{ name: 'name', type: 'rest' }],
    permission: 'moderator',
    legacy: true,
    mutates: true,
    run: (context, args) => kick(context, { by: 'name', value: String(args.name) }, undefined),
  },
  {
    name: 'disconnect_id',
    summary: 'Disconnect the client with this id (same as kick id)',
    arguments: [{ name: 'id', type: 'integer', min: 1 }],
    permission: 'moderator',
    legacy: true,
    mutates: true,
    run: (context, args) => kick(context, { by: 'id', value: Number(args.id) }, undefined),
  },

  // --- ban ----------------------------------------------------------------------------------
  {
    name: 'ban name',
    summary: 'Ban a player name and kick anyone using it; a reason starting with 30m/12h/7d/2w sets an expiry',
    arguments: [{ name: 'name', type: 'word', complete: 'player-name' }, REASON],
    permission: 'admin',
    mutates: true,
    announce: true,
    run: (context, args, invoker) =>
      ban(context, { by: 'name', value: String(args.name) }, args.reason as string | undefined, invoker),
  },
  {
    name: 'ban id',
    summary: "Ban a connected client's name and kick it (reason may start with a duration: 7d ...)",
    arguments: [{ name: 'id', type: 'integer', min: 1, complete: 'player-id' }, REASON],
    permission: 'admin',
    mutates: true,
    announce: true,
    run: (context, args, invoker) =>
      ban(context, { by: 'id', value: Number(args.id) }, args.reason as string | undefined, invoker),
  },
  {
    name: 'ban ip',
    summary: 'Ban an IP address and kick every client from it (reason may start with a duration: 7d ...)',
    arguments: [{ name: 'ip', type: 'word' }, REASON],
    permission: 'admin',
    mutates: true,
    announce: true,
    run: (context, args, invoker) =>
      ban(context, { by: 'ip', value: String(args.ip) }, args.reason as string | undefined, invoker),
  },
  {
    name: 'ban list',
    aliases: ['bans'],
    summary: 'List active bans',
    permission: 'moderator',
    run(context) {
      const bans = context.store.bans.list();
      const memberBans = context.store.identity.memberBans();
      const total = bans.length + memberBans.length;
      if (total === 0) return ok('No bans.', { bans, memberBans });
      const lines = bans.map((entry) => {
        const what = [
          entry.name !== null ? oneLine`name "${entry.name}"` : '',
          entry.ip !== null ? oneLine`ip ${entry.ip}` : '',
        ]
          .filter(Boolean)
          .join(', ');
        const until = entry.expiresAt ? `, until ${entry.expiresAt.toISOString()}` : '';
        return `${what}${entry.reason ? oneLine` — ${entry.reason}` : ''} (${oneLine`by ${entry.createdBy}`}, ${entry.createdAt.toISOString()}${until})`;
      });
      for (const entry of memberBans) {
        const names = context.identity.namesOf(entry.discordId);
        const what = oneLine`Discord member ${labelOf(context, entry.discordId)} (id ${entry.discordId}${names.length > 0 ? `; names ${names.join(', ')}` : ''})`;
        lines.push(
          `${what}${entry.reason ? oneLine` — ${entry.reason}` : ''} (${oneLine`by ${entry.createdBy}`}, ${entry.createdAt.toISOString()})`,
        );
      }
      return ok(`${total} ban${total === 1 ? '' : 's'}:\n${lines.join('\n')}`, { bans, memberBans });
    },
  },
  {
    name: 'ban',
    summary: 'Ban a player name (same as ban name)',
    arguments: [{ name: 'name', type: 'rest' }],
    permission: 'admin',
    legacy: true,
    mutates: true,
    run: (context, args, invoker) => ban(context, { by: 'name', value: String(args.name) }, undefined, invoker),
  },
  {
    name: 'ban_id',
    summary: "Ban a connected client's name and kick it (same as ban id)",
    arguments: [{ name: 'id', type: 'integer', min: 1 }],
    permission: 'admin',
    legacy: true,
    mutates: true,
    run: (context, args, invoker) => ban(context, { by: 'id', value: Number(args.id) }, undefined, invoker),
  },
  {
    name: 'unban',
    summary: 'Lift the bans on an IP address or a player name',
    arguments: [{ name: 'ip or name', type: 'rest' }],
    permission: 'admin',
    mutates: true,
    async run(context, args) {
      const value = String(args['ip or name']);
      const removed = await (isIP(value) !== 0
        ? context.store.bans.removeByIp(value)
        : context.store.bans.removeByName(value));
      return removed > 0
        ? ok(oneLine`Unbanned ${value}`, { removed })
        : fail('not_found', oneLine`no active ban for "${value}"`);
    },
  },

  // --- whitelist ----------------------------------------------------------------------------
  {
    name: 'whitelist on',
    summary: 'Only let whitelisted names and addresses connect',
    permission: 'admin',
    mutates: true,
    async run(context) {
      await context.store.whitelist.setEnabled(true);
      return ok('Whitelist on: only listed names and addresses may connect.');
    },
  },
  {
    name: 'whitelist off',
    summary: 'Let anyone connect (bans still apply)',
    permission: 'admin',
    mutates: true,
    async run(context) {
      await context.store.whitelist.setEnabled(false);
      return ok('Whitelist off.');
    },
  },
  {
    name: 'whitelist kick',
    summary: 'Disconnect every connected client that is not on the whitelist',
    permission: 'admin',
    mutates: true,
    run(context) {
      // Acts on the list even while the whitelist is off: that is what the operator asked for.
      const entries = context.store.whitelist.list();
      const listed = (client: ClientInfo) =>
        entries.some((entry) => (entry.kind === 'name' ? entry.value === client.name : entry.value === client.address));
      const outsiders = context.server.listClients().filter((client) => !listed(client));
      for (const client of outsiders) context.server.kick(client.id, 'not whitelisted');
      return outsiders.length > 0
        ? ok(`Kicked ${describeClients(outsiders)}`, { kicked: outsiders })
        : ok('Everyone connected is on the whitelist.', { kicked: [] });
    },
  },
  {
    name: 'whitelist add',
    summary: 'Add a name or an IP address to the whitelist',
    arguments: [
      { name: 'kind', type: 'word', choices: ['name', 'ip'] },
      { name: 'value', type: 'rest' },
    ],
    permission: 'admin',
    mutates: true,
    async run(context, args, invoker) {
      const kind = args.kind as 'name' | 'ip';
      const value = String(args.value);
      if (kind === 'ip' && isIP(value) === 0) return fail('bad_arguments', oneLine`"${value}" is not an IP address`);
      const added = await context.store.whitelist.add(kind, value, `${invoker.source}:${invoker.name}`);
      return added
        ? ok(oneLine`Added ${kind} ${value} to the whitelist`)
        : fail('conflict', oneLine`${kind} ${value} is already on the whitelist`);
    },
  },
  {
    name: 'whitelist remove',
    summary: 'Remove a name or an IP address from the whitelist',
    arguments: [
      { name: 'kind', type: 'word', choices: ['name', 'ip'] },
      { name: 'value', type: 'rest' },
    ],
    permission: 'admin',
    mutates: true,
    async run(context, args) {
      const kind = args.kind as 'name' | 'ip';
      const value = String(args.value);
      return (await context.store.whitelist.remove(kind, value))
        ? ok(oneLine`Removed ${kind} ${value} from the whitelist`)
        : fail('not_found', oneLine`${kind} ${value} is not on the whitelist`);
    },
  },
  {
    name: 'whitelist list',
    summary: 'Show whether the whitelist is on, and who is on it',
    permission: 'moderator',
    run(context) {
      const enabled = context.store.whitelist.isEnabled();
      const entries = context.store.whitelist.list();
      const lines = entries.map((entry) => oneLine`${entry.kind} ${entry.value} (by ${entry.addedBy})`);
      const header = `Whitelist is ${enabled ? 'on' : 'off'}; ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`;
      return ok(lines.length > 0 ? `${header}:\n${lines.join('\n')}` : `${header}.`, { enabled, entries });
    },
  },
];
