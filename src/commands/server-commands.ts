/**
 * Commands about the server as a whole: help, countdowns, chat from the server, who may join,
 * and stopping. Both GhostServer generations: `countdown start 5` and `countdown_set 5` +
 * `countdown`, `say` and `server_msg`, `accept players` and `accept_players`, `stop` and `exit`.
 */
import { oneLine } from '../text/printable.js';
import type { AdminContext } from './context.js';
import { raceLines } from '../races/text.js';
import {
  commandPrefix,
  fail,
  lowestPermission,
  ok,
  permits,
  reachable,
  type CommandDefinition,
  type CommandRegistry,
  type CommandResult,
  type Invoker,
} from './registry.js';

type Definition = CommandDefinition<AdminContext>;
type Audience = 'players' | 'spectators' | 'all';

/** Starts a countdown from a length in seconds, a preset name, or the current settings. */
async function startCountdown(
  context: AdminContext,
  choice: string | undefined,
  overrides: { preCommands?: string; postCommands?: string } = {},
): Promise<CommandResult> {
  const race = context.races.current();
  if (race?.kind === 'race') {
    return fail('refused', `race ${race.id} is ${race.state.replace('_', ' ')}: race start counts its entrants down`);
  }
  let settings = {
    delay: context.countdown.delay,
    preCommands: context.countdown.preCommands,
    postCommands: context.countdown.postCommands,
  };
  if (choice !== undefined && /^\d+$/.test(choice)) {
    settings.delay = Number(choice);
  } else if (choice !== undefined) {
    const preset = context.countdown.presets[choice.toLowerCase()];
    if (preset === undefined) {
      const names = Object.keys(context.countdown.presets);
      return fail(
        'not_found',
        oneLine`no countdown preset "${choice}"` + (names.length > 0 ? oneLine`; presets: ${names.join(', ')}` : ''),
      );
    }
    settings = { ...preset };
  }
  // Commands given with this start apply to this countdown only.
  if (overrides.preCommands !== undefined) settings.preCommands = overrides.preCommands;
  if (overrides.postCommands !== undefined) settings.postCommands = overrides.postCommands;
  if (settings.delay < 1 || settings.delay > context.countdown.maxDelay) {
    return fail('bad_arguments', `the countdown must last 1 to ${context.countdown.maxDelay} seconds`);
  }
  const outcome = await context.server.requestCountdown({
    duration: settings.delay,
    preCommands: settings.preCommands,
    postCommands: settings.postCommands,
  });
  if ('refused' in outcome) return fail('refused', oneLine`countdown refused: ${outcome.refused}`);
  const started = outcome.started;
  const count = context.server.listClients().length;
  return ok(`Countdown of ${settings.delay} s sent to ${count} client${count === 1 ? '' : 's'}`, started);
}

function setAccepting(context: AdminContext, audience: Audience, accept: boolean): CommandResult {
  if (audience !== 'spectators') context.server.setAcceptingPlayers(accept);
  if (audience !== 'players') context.server.setAcceptingSpectators(accept);
  const who = audience === 'all' ? 'players and spectators' : audience;
  return ok(`${accept ? 'Accepting' : 'Refusing'} new ${who}`, {
    acceptingPlayers: context.server.acceptingPlayers,
    acceptingSpectators: context.server.acceptingSpectators,
  });
}

function say(context: AdminContext, text: string): CommandResult {
  context.server.broadcastServerMessage(text);
  return ok(oneLine`Sent: ${text}`);
}

function stop(context: AdminContext): CommandResult {
  context.requestStop('stop command');
  return ok('Stopping the server…');
}

/** SAR prints one message per line: a chat help page is this wide and this long at most. */
const CHAT_LINE_WIDTH = 100;
const CHAT_NAME_LINES = 3;

/** Every name on as few lines of at most `width` characters as they fit, comma-separated. */
function wrap(first: string, names: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let current = first;
  for (const [index, name] of names.entries()) {
    const piece = `${name}${index < names.length - 1 ? ',' : ''}`;
    if (current.length > 0 && current.length + 1 + piece.length > width) {
      lines.push(current);
      current = piece;
    } else {
      current = current.length === 0 ? piece : `${current} ${piece}`;
    }
  }
  if (current.length > 0) lines.push(current);
  return lines;
}

/**
 * Help from the registry's own definitions, showing only what this invoker may run: the full list
 * (current names, then GhostServer's older ones), or every form of one name — a command, a group
 * (`kick` → kick name|id|ip) or both (`ban`: the older `ban <name>` and ban name|id|ip|list). In
 * SAR chat, where each line is a message, the list is the command names on a line or two.
 * Discord offers no older names, so its help leaves them out.
 */
function help(registry: CommandRegistry<AdminContext>, topic: string | undefined, invoker: Invoker): CommandResult {
  const visible = (definition: Definition) =>
    permits(invoker, definition) &&
    reachable(invoker.source, definition) &&
    !(definition.legacy && invoker.source === 'discord');
  const prefix = commandPrefix(invoker);
  const chat = invoker.source === 'chat';
  /** One line per form, summaries lined up: `  kick id <id> [reason...]   Disconnect the client...`. */
  const describe = (definitions: readonly Definition[], markOlder: boolean) => {
    const usages = definitions.map((definition) => registry.usage(definition, invoker));
    if (chat) return usages;
    const width = Math.max(0, ...usages.map((usage) => usage.length));
    return definitions.map((definition, index) => {
      const older = markOlder && definition.legacy ? ' (older GhostServer form)' : '';
      return `  ${usages[index]!.padEnd(width)}  ${definition.summary}${older}`;
    });
  };

  if (topic === undefined) {
    const shown = registry.list().filter(visible);
    if (chat) {
      const words = [...new Set(shown.map((definition) => `${prefix}${definition.name.split(' ')[0]!}`))];
      const lines = wrap('Commands:', words, CHAT_LINE_WIDTH).slice(0, CHAT_NAME_LINES);
      return ok([...lines, `${prefix}help <command> shows how to use one`].join('\n'));
    }
    const lines = describe(shown, false);
    const current = lines.filter((_, index) => !shown[index]!.legacy);
    const legacy = lines.filter((_, index) => shown[index]!.legacy);
    const older = legacy.length > 0 ? ['', 'Older GhostServer names, still accepted:', ...legacy] : [];
    return ok(['Commands:', ...current, ...older].join('\n'));
  }

  const definition = registry.find(topic);
  const members = registry.members(topic);
  if (definition === undefined && members.length === 0)
    return fail('unknown_command', oneLine`unknown command "${topic}"; type "${prefix}help" for the list`);
  const all = [...(definition !== undefined ? [definition] : []), ...members];
  const permitted = all.filter((form) => permits(invoker, form));
  if (permitted.length === 0)
    return fail('forbidden', oneLine`"${topic.trim()}" needs ${lowestPermission(all)} permission`);
  const forms = permitted.filter(visible);
  if (forms.length === 0)
    return fail('unknown_command', oneLine`"${topic.trim()}" is an older console name; Discord does not offer it`);
  if (definition !== undefined && forms.length === 1 && forms[0] === definition) {
    const aliases = definition.aliases?.length ? `\naliases: ${definition.aliases.join(', ')}` : '';
    return ok(`usage: ${registry.usage(definition, invoker)}\n${definition.summary}${aliases}`);
  }
  // Group members first, then the command of that name itself (an older form such as `ban <name>`).
  const ordered = [...forms.filter((form) => form !== definition), ...forms.filter((form) => form === definition)];
  return ok(['usage:', ...describe(ordered, true)].join('\n'));
}

const AUDIENCE = { name: 'who', type: 'word', choices: ['players', 'spectators', 'all'] } as const;
const COMMANDS_TEXT = { name: 'commands', type: 'rest', optional: true } as const;

export const serverCommands: Definition[] = [
  {
    name: 'help',
    summary: 'List commands, or show how to use one',
    arguments: [{ name: 'command', type: 'rest', optional: true }],
    permission: 'everyone',
    run(context, args, invoker) {
      if (context.commands === undefined) return fail('internal', 'help is not available: no command registry');
      return help(context.commands, args.command as string | undefined, invoker);
    },
  },

  // --- countdown ----------------------------------------------------------------------------
  {
    name: 'countdown start',
    summary: 'Start a race countdown for everyone: for some seconds, from a preset, or as set',
    arguments: [
      { name: 'seconds or preset', type: 'word', optional: true },
      {
        name: 'pre',
        type: 'word',
        optional: true,
        description: 'commands SAR runs at the start (this countdown only)',
      },
      { name: 'post', type: 'word', optional: true, description: 'commands SAR runs at zero (this countdown only)' },
    ],
    permission: 'moderator',
    mutates: true,
    run: (context, args) =>
      startCountdown(context, args['seconds or preset'] as string | undefined, {
        ...(args.pre !== undefined ? { preCommands: String(args.pre) } : {}),
        ...(args.post !== undefined ? { postCommands: String(args.post) } : {}),
      }),
  },
  {
    name: 'countdown presets',
    summary: 'List the countdown presets from config.toml, and the current settings',
    permission: 'moderator',
    run(context) {
      type Settings = { delay: number; preCommands: string; postCommands: string };
      const describe = (name: string, settings: Settings) =>
        oneLine`${name}: ${settings.delay} s, pre: ${settings.preCommands || '(none)'}, post: ${settings.postCommands || '(none)'}`;
      const presets = Object.entries(context.countdown.presets).map(([name, preset]) => describe(name, preset));
      return ok([describe('current', context.countdown), ...presets].join('\n'), {
        presets: context.countdown.presets,
      });
    },
  },

  {
    name: 'countdown pre',
    summary: 'Console commands SAR runs when the countdown starts (none if left empty)',
    arguments: [COMMANDS_TEXT],
    permission: 'moderator',
    mutates: true,
    run(context, args) {
      context.countdown.preCommands = (args.commands as string | undefined) ?? '';
      return ok(oneLine`Pre-countdown commands: ${context.countdown.preCommands || '(none)'}`);
    },
  },
  {
    name: 'countdown post',
    summary: 'Console commands SAR runs when the countdown reaches zero (none if left empty)',
    arguments: [COMMANDS_TEXT],
    permission: 'moderator',
    mutates: true,
    run(context, args) {
      context.countdown.postCommands = (args.commands as string | undefined) ?? '';
      return ok(oneLine`Post-countdown commands: ${context.countdown.postCommands || '(none)'}`);
    },
  },
  {
    name: 'countdown',
    summary: 'Start the countdown set with countdown_set',
    permission: 'moderator',
    legacy: true,
    mutates: true,
    run: (context) => startCountdown(context, undefined),
  },
  {
    name: 'countdown_set',
    summary: 'Set the countdown length and, optionally, its pre and post commands (quote them)',
    arguments: [
      { name: 'seconds', type: 'integer' },
      { name: 'pre', type: 'word', optional: true },
      { name: 'post', type: 'word', optional: true },
    ],
    permission: 'moderator',
    legacy: true,
    mutates: true,
    run(context, args) {
      const seconds = Number(args.seconds);
      if (seconds < 1 || seconds > context.countdown.maxDelay) {
        return fail('bad_arguments', `the countdown must last 1 to ${context.countdown.maxDelay} seconds`);
      }
      context.countdown.delay = seconds;
      if (args.pre !== undefined) context.countdown.preCommands = String(args.pre);
      if (args.post !== undefined) context.countdown.postCommands = String(args.post);
      const { preCommands, postCommands } = context.countdown;
      return ok(
        oneLine`Countdown set to ${seconds} s (pre: ${preCommands || '(none)'}; post: ${postCommands || '(none)'})`,
      );
    },
  },

  // --- messages -----------------------------------------------------------------------------
  {
    name: 'say',
    summary: 'Send a message to every client, shown as from the server',
    arguments: [{ name: 'message', type: 'rest' }],
    permission: 'moderator',
    mutates: true,
    run: (context, args) => say(context, String(args.message)),
  },
  {
    name: 'server_msg',
    summary: 'Send a message to every client (same as say)',
    arguments: [{ name: 'message', type: 'rest' }],
    permission: 'moderator',
    legacy: true,
    mutates: true,
    run: (context, args) => say(context, String(args.message)),
  },

  // --- who may join ---------------------------------------------------------------------------
  {
    name: 'accept',
    summary: 'Let new players, spectators or both connect',
    arguments: [AUDIENCE],
    permission: 'moderator',
    mutates: true,
    run: (context, args) => setAccepting(context, args.who as Audience, true),
  },
  {
    name: 'refuse',
    summary: 'Stop new players, spectators or both from connecting',
    arguments: [AUDIENCE],
    permission: 'moderator',
    mutates: true,
    run: (context, args) => setAccepting(context, args.who as Audience, false),
  },
  ...(
    [
      ['accept_players', 'players', true],
      ['refuse_players', 'players', false],
      ['accept_spectators', 'spectators', true],
      ['refuse_spectators', 'spectators', false],
    ] as const
  ).map(([name, audience, accept]): Definition => ({
    name,
    summary: `${accept ? 'Accept' : 'Refuse'} new ${audience} (same as ${accept ? 'accept' : 'refuse'} ${audience})`,
    permission: 'moderator',
    legacy: true,
    mutates: true,
    run: (context) => setAccepting(context, audience, accept),
  })),

  {
    name: 'status',
    summary: 'Address, players, spectators, maps and uptime',
    permission: 'everyone',
    run(context) {
      const clients = context.server.listClients();
      const players = clients.filter((client) => !client.spectator);
      const maps = new Map<string, number>();
      for (const player of players) maps.set(player.map || 'menu', (maps.get(player.map || 'menu') ?? 0) + 1);
      const uptimeSeconds = Math.round(process.uptime());
      const uptime = `${Math.floor(uptimeSeconds / 3600)}h ${Math.floor((uptimeSeconds % 3600) / 60)}m`;
      const data = {
        address: `${context.server.hostname}:${context.server.port}`,
        players: players.length,
        spectators: clients.length - players.length,
        maps: Object.fromEntries(maps),
        uptimeSeconds,
        acceptingPlayers: context.server.acceptingPlayers,
        acceptingSpectators: context.server.acceptingSpectators,
        playersRefusedBecause: context.server.playersRefusedBecause ?? null,
        race: context.races.current() ?? null,
      };
      const mapText = [...maps].map(([map, count]) => oneLine`${map} (${count})`).join(', ') || 'none';
      return ok(
        [
          `Server ${data.address}, up ${uptime}`,
          `${data.players} player${data.players === 1 ? '' : 's'}, ${data.spectators} spectator${data.spectators === 1 ? '' : 's'}`,
          `Maps: ${mapText}`,
          `Accepting players: ${data.acceptingPlayers ? 'yes' : `no, ${data.playersRefusedBecause}`}; spectators: ${data.acceptingSpectators ? 'yes' : 'no'}`,
          data.race === null ? 'No race open' : raceLines(data.race)[0]!,
        ].join('\n'),
        data,
      );
    },
  },
  {
    name: 'audit',
    summary: 'Show the most recent admin actions: who, from where, what, when',
    arguments: [{ name: 'count', type: 'integer', optional: true, min: 1, max: 500 }],
    permission: 'admin',
    run(context, args) {
      const entries = context.store.audit.recent((args.count as number | undefined) ?? 20);
      if (entries.length === 0) return ok('No admin actions recorded yet.', { entries });
      const lines = entries.map(
        (entry) => oneLine`${entry.at.toISOString()} ${entry.source}:${entry.actor} ${entry.action}`,
      );
      return ok(lines.join('\n'), { entries });
    },
  },

  // --- stopping -------------------------------------------------------------------------------
  {
    name: 'stop',
    summary: 'Tell every client, close all connections and exit',
    permission: 'admin',
    mutates: true,
    run: (context) => stop(context),
  },
  {
    name: 'exit',
    summary: 'Stop the server (same as stop)',
    permission: 'admin',
    legacy: true,
    mutates: true,
    run: (context) => stop(context),
  },
];
