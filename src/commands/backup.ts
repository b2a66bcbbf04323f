/**
 * `backup <path>`: a consistent copy of the database while the server runs, with SQLite's
 * online backup (made by the write thread, so the tick does not wait; writes go on meanwhile
 * and what was committed before the copy finishes is in it). Copying data/ghosting.db by hand
 * while the server runs can miss recent changes, which may still be in ghosting.db-wal.
 *
 * Every caller is treated as hostile about the path: a backup never overwrites a file (the name
 * is claimed with O_EXCL, so not even a link is followed). From anywhere but the console —
 * Discord, the HTTP API, in-game chat, plugins — the path must be a plain file name or a relative
 * path inside `[database] backup_directory` (no absolute path, no `..`, no link out of it). The
 * console, which runs as the server's own user, may name any path; a relative one is relative to
 * the backup folder there too.
 */
import { lstat, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { makeDirectory } from '../db/connection.js';
import type { AdminContext } from './context.js';
import { fail, ok, type CommandDefinition, type CommandResult, type Invoker } from './registry.js';
import { oneLine } from '../text/printable.js';

/** Longest path accepted from outside the console. */
const MAX_REMOTE_PATH = 200;

/** Where a remote invoker's path lands inside the backup folder, or why it may not. */
function insideBackupFolder(requested: string, folder: string): string | CommandResult {
  const refuse = (why: string) =>
    fail('bad_arguments', `${why}; give a file name inside the backup folder, e.g. "before-race.db"`);
  if (requested.length > MAX_REMOTE_PATH) return refuse(`the path is longer than ${MAX_REMOTE_PATH} characters`);
  if (/[\u0000-\u001f\u007f\\]/.test(requested)) return refuse('the path has a control character or a backslash');
  if (isAbsolute(requested)) return refuse('an absolute path is only accepted from the console');
  const parts = requested.split('/');
  if (parts.includes('..')) return refuse('".." is not accepted');
  if (parts.some((part) => part === '' || part === '.')) return refuse('the path has an empty or "." part');
  return join(resolve(folder), ...parts);
}

/** Whether `directory`, with every link resolved, is the backup folder or inside it. */
async function staysInside(directory: string, folder: string): Promise<boolean> {
  const [real, root] = await Promise.all([realpath(directory), realpath(folder)]);
  const path = relative(root, real);
  return path === '' || (path !== '..' && !path.startsWith(`..${sep}`) && !isAbsolute(path));
}

/** The closest folder on the way to `directory` that exists already. */
async function nearestExisting(directory: string): Promise<string> {
  for (let current = directory; ; current = dirname(current)) {
    if (await exists(current)) return current;
    if (dirname(current) === current) return current;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function backup(context: AdminContext, requested: string, invoker: Invoker): Promise<CommandResult> {
  const folder = context.store.backupDirectory;
  let destination: string;
  if (invoker.source === 'console') {
    // Relative to the backup folder too, but anywhere the console names (an absolute path, `..`).
    destination = resolve(folder, requested);
  } else {
    const inside = insideBackupFolder(requested, folder);
    if (typeof inside !== 'string') return inside;
    destination = inside;
  }
  const remote = invoker.source !== 'console';
  const leadsOut = () => fail('bad_arguments', oneLine`${requested} leads out of the backup folder ${folder}`);
  try {
    if (remote) {
      makeDirectory(folder);
      // No folder is made through a link that leads out of the backup folder...
      if (!(await staysInside(await nearestExisting(dirname(destination)), folder))) return leadsOut();
    }
    makeDirectory(dirname(destination));
  } catch (error) {
    return fail('unavailable', oneLine`cannot create the folder for ${destination}: ${(error as Error).message}`);
  }
  // ...and the copy is not written through one.
  if (remote && !(await staysInside(dirname(destination), folder))) return leadsOut();
  if (await exists(destination)) {
    return fail('conflict', oneLine`${destination} already exists; a backup never overwrites a file`);
  }
  // A DatabaseError (the write thread is down, the disk is full) is answered as `unavailable`.
  const bytes = await context.store.backup(destination);
  return ok(oneLine`Backed up the database to ${destination} (${bytes} bytes)`, { path: destination, bytes });
}

export const backupCommands: CommandDefinition<AdminContext>[] = [
  {
    name: 'backup',
    summary:
      'Copy the database to a new file while the server runs; a relative path is inside [database] backup_directory',
    arguments: [{ name: 'path', type: 'rest', description: 'file to create, e.g. before-race.db' }],
    permission: 'admin',
    mutates: true,
    run: (context, args, invoker) => backup(context, String(args.path), invoker),
  },
];
