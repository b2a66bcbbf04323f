/**
 * The built-in admin commands in one registry. Console, Discord and plugins all run commands
 * through the registry this returns.
 */
import type { AuditEntry, RegistryOptions } from './registry.js';
import { CommandRegistry } from './registry.js';
import type { AdminContext } from './context.js';
import { backupCommands } from './backup.js';
import { playerCommands } from './players.js';
import { serverCommands } from './server-commands.js';
import { raceCommands } from '../races/commands.js';

export function createAdminRegistry(
  context: AdminContext,
  options: RegistryOptions = {},
): CommandRegistry<AdminContext> {
  const registry = new CommandRegistry(context, options);
  for (const definition of [...serverCommands, ...playerCommands, ...raceCommands, ...backupCommands])
    registry.register(definition);
  context.commands = registry;
  return registry;
}

/** The audit line for a command: its name and the arguments it was given. */
export function describeAudit(entry: AuditEntry): string {
  const args = Object.entries(entry.args)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(' ');
  return args ? `${entry.command} ${args}` : entry.command;
}
