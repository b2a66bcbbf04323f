/**
 * Identity commands, in the one registry: `link` (a code in SAR's chat, redeemed in Discord),
 * `unlink`, `whois`, `profile`, and `ban member` / `unban member`, which act on a Discord member
 * and so on every name linked to them.
 *
 * A member is named by a mention (`<@123>`), a Discord id, or one of their linked names.
 */
import type { AdminContext } from '../commands/context.js';
import { describeClients } from '../commands/context.js';
import { fail, ok, permits, type CommandDefinition, type CommandResult, type Invoker } from '../commands/registry.js';
import { ROUTES } from '../races/routes.js';
import type { RouteId } from '../races/types.js';
import { oneLine, printable } from '../text/printable.js';

type Definition = CommandDefinition<AdminContext>;

/** Where the commands that read or change links can be run from: anywhere but SAR's chat. */
const OFF_GAME = ['console', 'discord', 'http', 'plugin'] as const;

interface Member {
  discordId: string;
  /** Their Discord name as a link remembers it, else "member <id>". */
  label: string;
}

/** A member's Discord name as their first linked name remembers it, else "member <id>". */
export function labelOf(context: AdminContext, discordId: string): string {
  const name = context.identity.namesOf(discordId)[0];
  const link = name === undefined ? undefined : context.identity.memberOf(name);
  return link?.discordName ?? `member ${discordId}`;
}

/** A mention `<@123>` or `<@!123>`, a linked name, or a Discord id (all digits) — in that order. */
function resolveMember(context: AdminContext, text: string): Member | CommandResult {
  const value = text.trim();
  const mention = /^<@!?(\d{1,20})>$/.exec(value);
  if (mention !== null) return { discordId: mention[1]!, label: labelOf(context, mention[1]!) };
  const link = context.identity.memberOf(value);
  if (link !== undefined) return { discordId: link.discordId, label: link.discordName };
  if (/^\d{1,20}$/.test(value)) return { discordId: value, label: labelOf(context, value) };
  return fail('not_found', oneLine`"${value}" is neither a Discord member (@mention or id) nor a linked name`);
}

const isResult = (value: Member | CommandResult): value is CommandResult => 'ok' in value;

function routeName(route: RouteId | null): string {
  return route === null ? 'other maps' : ROUTES[route].name;
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

function actor(invoker: Invoker): string {
  return `${invoker.source}:${invoker.name}`;
}

/** SAR chat: a code for the player who typed it (only they see the reply). */
function issueCode(context: AdminContext, invoker: Invoker, code: string | undefined): CommandResult {
  if (invoker.clientId === undefined)
    return fail('refused', "only a player in game can ask for a code: type /link in SAR's chat");
  if (code !== undefined)
    return fail('bad_arguments', 'type the code in Discord (/link <code> there); here, /link alone gives you a code');
  const issued = context.identity.requestCode(invoker.clientId);
  if (!issued.ok) return fail('refused', `No code: ${issued.reason}.`);
  const minutes = Math.max(1, Math.round(issued.expiresInSeconds / 60));
  return ok(
    [
      `Your link code: ${issued.code} (valid ${plural(minutes, 'minute')}, once; share it with nobody).`,
      `In Discord, type /link ${issued.code}`,
    ].join('\n'),
  );
}

/** Discord: uses a code; the name it was asked for becomes the member's. */
async function redeemCode(context: AdminContext, invoker: Invoker, code: string | undefined): Promise<CommandResult> {
  if (invoker.discordId === undefined) return fail('refused', 'linking needs a Discord account');
  if (code === undefined)
    return fail('bad_arguments', "type /link in SAR's chat to get a code, then /link <code> here");
  const redeemed = await context.identity.redeem(code, { id: invoker.discordId, name: invoker.name });
  if (!redeemed.ok) return fail(redeemed.wrongCode ? 'not_found' : 'refused', `Not linked: ${redeemed.reason}.`);
  const text = oneLine`Linked ${redeemed.name} to your Discord account.`;
  // Audited here rather than by the registry: the chat side's answer holds the code, which no log may keep.
  void context.store.audit.record({
    actor: invoker.name,
    source: invoker.source,
    action: oneLine`link name=${JSON.stringify(redeemed.name)}`,
    detail: text,
  });
  return ok(text, { name: redeemed.name, discordId: invoker.discordId });
}

async function unlink(context: AdminContext, invoker: Invoker, player: string | undefined): Promise<CommandResult> {
  const own = invoker.source === 'discord' ? invoker.discordId : undefined;
  if (player === undefined) {
    if (own === undefined)
      return fail(
        'bad_arguments',
        invoker.source === 'discord' ? 'linking needs a Discord account' : 'name the player to unlink',
      );
    const names = await context.identity.unlinkMember(own);
    if (names.length === 0) return fail('not_found', 'you have no linked names');
    return ok(oneLine`Unlinked ${names.join(', ')}.`, { names });
  }
  const link = context.identity.memberOf(player);
  if (link === undefined) return fail('not_found', oneLine`${player} is not linked to a Discord member`);
  if (invoker.source === 'discord' && link.discordId !== own && !permits(invoker, { permission: 'moderator' }))
    return fail(
      'forbidden',
      oneLine`${player} is not linked to you: unlinking another member's name needs moderator permission`,
    );
  await context.identity.unlink(player);
  return ok(oneLine`Unlinked ${player} from Discord member ${link.discordName}.`, { names: [player] });
}

function whois(context: AdminContext, player: string): CommandResult {
  const link = context.store.identity.memberOf(player);
  if (link === undefined) return fail('not_found', oneLine`${player} is not linked to a Discord member`);
  const names = context.identity.namesOf(link.discordId);
  const clients = context.server
    .listClients()
    .filter((client) => client.name === player)
    .map((client) => ({ id: client.id, trust: context.identity.trustOf(client.id) }));
  const banned = context.store.identity.memberBan(link.discordId) !== undefined;
  const lines = [
    oneLine`${player}: Discord member ${link.discordName} (id ${link.discordId}), linked ${link.linkedAt.toISOString()}${banned ? ' [banned]' : ''}`,
  ];
  const others = names.filter((name) => name !== player);
  if (others.length > 0) lines.push(oneLine`Also linked: ${others.join(', ')}`);
  if (clients.length > 0)
    lines.push(`Connected: ${clients.map((client) => `#${client.id} (${client.trust})`).join(', ')}`);
  return ok(lines.join('\n'), {
    name: player,
    discordId: link.discordId,
    discordName: link.discordName,
    linkedAt: link.linkedAt,
    names,
    banned,
    clients,
  });
}

function profile(context: AdminContext, invoker: Invoker, memberText: string | undefined): CommandResult {
  let member: Member;
  if (memberText !== undefined) {
    const resolved = resolveMember(context, memberText);
    if (isResult(resolved)) return resolved;
    member = resolved;
  } else if (invoker.source === 'discord' && invoker.discordId !== undefined) {
    const label = labelOf(context, invoker.discordId);
    member = { discordId: invoker.discordId, label: label.startsWith('member ') ? invoker.name : label };
  } else {
    return fail('bad_arguments', 'name a member: profile <@member | id | linked name>');
  }
  const names = context.identity.namesOf(member.discordId);
  const ban = context.store.identity.memberBan(member.discordId);
  if (names.length === 0 && ban === undefined)
    return fail('not_found', oneLine`${member.label} has no linked names: type /link in SAR's chat to link one`);
  const stats = context.store.races.memberStats(member.discordId, member.label);
  const lines = [
    oneLine`${member.label}: ${names.length > 0 ? `linked names ${names.join(', ')}` : 'no linked names'}`,
    `${plural(stats.races, 'race')}, ${plural(stats.wins, 'win')}, ${stats.finishes} finished, ${stats.forfeits} forfeited`,
    ...stats.best.map((entry) => `best ${routeName(entry.route)}: ${printable(entry.time)} (race ${entry.raceId})`),
  ];
  if (ban !== undefined) lines.push(oneLine`Banned${ban.reason ? ` (${ban.reason})` : ''}`);
  return ok(lines.join('\n'), {
    discordId: member.discordId,
    discordName: member.label,
    names,
    banned: ban !== undefined,
    stats,
  });
}

async function banMember(
  context: AdminContext,
  invoker: Invoker,
  memberText: string,
  reason: string | undefined,
): Promise<CommandResult> {
  const member = resolveMember(context, memberText);
  if (isResult(member)) return member;
  await context.store.identity.banMember(member.discordId, reason ?? null, actor(invoker));
  // Looked up once the ban is stored: whoever connected meanwhile under one of the names goes too.
  const names = context.identity.namesOf(member.discordId);
  const kicked = context.server.listClients().filter((client) => names.includes(client.name));
  for (const client of kicked) context.server.kick(client.id, reason ? `banned: ${reason}` : 'banned');
  const what = names.length > 0 ? oneLine` and the names ${names.join(', ')}` : '';
  return ok(
    oneLine`Banned Discord member ${member.label}${what}${reason ? ` (${reason})` : ''}` +
      (kicked.length > 0 ? `; kicked ${describeClients(kicked)}` : ''),
    { discordId: member.discordId, names, kicked },
  );
}

async function unbanMember(context: AdminContext, memberText: string): Promise<CommandResult> {
  const member = resolveMember(context, memberText);
  if (isResult(member)) return member;
  return (await context.store.identity.unbanMember(member.discordId))
    ? ok(oneLine`Unbanned Discord member ${member.label}.`, { discordId: member.discordId })
    : fail('not_found', oneLine`Discord member ${member.label} is not banned`);
}

const MEMBER = {
  name: 'member',
  type: 'word',
  complete: 'member',
  description: 'a Discord member: @mention, id, or one of their linked names',
} as const;

export const identityCommands: Definition[] = [
  {
    name: 'link',
    summary:
      "Link your SAR name to your Discord account: /link in SAR's chat gives a code, /link <code> in Discord uses it",
    arguments: [{ name: 'code', type: 'word', optional: true, description: 'the code /link gave you in game' }],
    permission: 'everyone',
    sources: ['chat', 'discord'],
    // Not `mutates`: the registry would audit the chat side's answer, which is the code.
    replyPrivately: true,
    run: (context, args, invoker) =>
      invoker.source === 'chat'
        ? issueCode(context, invoker, args.code as string | undefined)
        : redeemCode(context, invoker, args.code as string | undefined),
  },
  {
    name: 'unlink',
    summary: "Unlink a SAR name from its Discord account (from Discord: your own; a moderator's: anyone's)",
    arguments: [{ name: 'player', type: 'rest', optional: true, complete: 'player-name' }],
    permission: 'everyone',
    sources: OFF_GAME,
    mutates: true,
    run: (context, args, invoker) => unlink(context, invoker, args.player as string | undefined),
  },
  {
    name: 'whois',
    summary: 'Which Discord member a SAR name is linked to',
    arguments: [{ name: 'player', type: 'rest', complete: 'player-name' }],
    permission: 'everyone',
    sources: OFF_GAME,
    run: (context, args) => whois(context, String(args.player)),
  },
  {
    name: 'profile',
    summary: "A Discord member's linked names, races, wins and best times (yours without a member)",
    arguments: [{ ...MEMBER, optional: true }],
    permission: 'everyone',
    sources: OFF_GAME,
    run: (context, args, invoker) => profile(context, invoker, args.member as string | undefined),
  },
  {
    name: 'ban member',
    summary: 'Ban a Discord member: every name linked to them is kicked and refused, and they cannot link another',
    arguments: [MEMBER, { name: 'reason', type: 'rest', optional: true }],
    permission: 'moderator',
    mutates: true,
    announce: true,
    run: (context, args, invoker) =>
      banMember(context, invoker, String(args.member), args.reason as string | undefined),
  },
  {
    name: 'unban member',
    summary: 'Lift the ban on a Discord member',
    arguments: [MEMBER],
    // As `unban`: moderators ban, admins lift bans.
    permission: 'admin',
    mutates: true,
    run: (context, args) => unbanMember(context, String(args.member)),
  },
];
