/**
 * config.toml: reading, validation and defaults. Every key is optional; a missing file means
 * all defaults. A bad value becomes a ConfigError naming the key and what was expected, which the
 * entry point prints as one line before exiting with status 2.
 */
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
/** Packets per client per second; a fraction means one per longer window (0.2: one per 5 s); 0 = no limit. */
const rate = z.number().min(0).max(100_000);

const serverSection = z.strictObject({
  hostname: z.string().min(1).default('0.0.0.0'),
  port: int(0, 65535).default(53000),
  accept_players: z.boolean().default(true),
  accept_spectators: z.boolean().default(true),
  interest_management: z.boolean().default(false),
  send_threads: int(0, 16).default(2),
});

const timingSection = z.strictObject({
  tick_interval_ms: int(1, 10_000).default(50),
  heartbeat_interval_ms: int(10, 600_000).default(5000),
  udp_keepalive_interval_ms: int(10, 600_000).default(1000),
  handshake_timeout_ms: int(10, 600_000).default(1500),
  voice_grace_ms: int(0, 60_000).default(1000),
  shutdown_timeout_ms: int(0, 60_000).default(3000),
  udp_rebind_silence_ms: int(0, 600_000).default(2000),
});

const limitsSection = z.strictObject({
  max_clients: int(0, 1_000_000).default(0),
  max_connections_per_ip: int(1, 1_000_000).default(32),
  max_frame_bytes: int(64, 16 * 1024 * 1024).default(16 * 1024),
  max_send_buffer_bytes: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  max_receive_bytes_per_second: int(0, 1024 * 1024 * 1024).default(1024 * 1024),
  max_datagram_bytes: int(38, 65_507).default(65_507),
  ping_per_second: rate.default(5),
  map_change_per_second: rate.default(5),
  chat_per_second: rate.default(10),
  countdown_confirm_per_second: rate.default(5),
  update_per_second: rate.default(120),
  finish_per_second: rate.default(1),
  model_change_per_second: rate.default(2),
  color_change_per_second: rate.default(2),
  taunt_per_second: rate.default(5),
  locator_per_second: rate.default(10),
  voice_per_second: rate.default(100),
  udp_receive_buffer_bytes: int(0, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  udp_send_buffer_bytes: int(0, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
});

const countdownPreset = z.strictObject({
  delay: int(1, 3600),
  pre_commands: z.string().default(''),
  post_commands: z.string().default(''),
});

const countdownSection = z.strictObject({
  delay: int(1, 3600).default(3),
  max_delay: int(1, 3600).default(60),
  pre_commands: z.string().default(''),
  post_commands: z.string().default(''),
  refuse_new_players: z.boolean().default(true),
  presets: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), countdownPreset).default({}),
});

const racesSection = z.strictObject({
  auto_start: z.boolean().default(false),
  min_entrants: int(1, 100_000).default(2),
  /** Seconds; unset = `[countdown] delay`. */
  countdown: int(1, 3600).optional(),
  card_update_ms: int(250, 600_000).default(2000),
});

const databaseSection = z.strictObject({
  path: z.string().min(1).default('data/ghosting.db'),
  max_queued_writes: int(1, 1_000_000).default(10_000),
  backup_directory: z.string().min(1).default('data/backups'),
});

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'critical'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const loggingSection = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info'),
  console: z.boolean().default(true),
  file: z.boolean().default(false),
  filename: z.string().min(1).default('ghosting.log'),
});

/** Discord ids are snowflakes: 17–20 digits. Empty means "not set". */
const snowflake = z.string().regex(/^(\d{17,20})?$/, 'expected a Discord id (17–20 digits) or ""');

const discordSection = z.strictObject({
  enabled: z.boolean().default(true),
  guild_id: snowflake.default(''),
  chat_channel_id: snowflake.default(''),
  events_channel_id: snowflake.default(''),
  api_url: z.string().default(''),
  announce_connections: z.boolean().default(true),
  use_webhooks: z.boolean().default(true),
  max_message_length: int(1, 2000).default(200),
  max_queued_messages: int(1, 10_000).default(50),
});

const pluginEntry = z.union([
  z.string().min(1),
  z.strictObject({ module: z.string().min(1), optional: z.boolean().default(false) }),
]);

const pluginsSection = z.strictObject({
  modules: z.array(pluginEntry).default([]),
  command_prefix: z.string().max(8).default('/'),
  hook_timeout_ms: int(1, 60_000).default(1000),
});

const httpSection = z.strictObject({
  enabled: z.boolean().default(false),
  hostname: z.string().min(1).default('127.0.0.1'),
  port: int(0, 65535).default(8080),
  token: z.string().default(''),
  public_pages: z.boolean().default(true),
  public_chat: z.boolean().default(false),
  public_address: z.string().max(253).default(''),
  page_title: z.string().min(1).max(80).default('ghosting'),
  max_live_viewers: int(0, 100_000).default(1000),
  max_connections: int(1, 1_000_000).default(2000),
  live_heartbeat_ms: int(100, 600_000).default(15_000),
});

const identitySection = z.strictObject({
  protect_linked_names: z.boolean().default(false),
  confirm_timeout_s: int(10, 3600).default(120),
  code_ttl_s: int(30, 3600).default(300),
});

const configSchema = z.strictObject({
  server: serverSection.default(serverSection.parse({})),
  timing: timingSection.default(timingSection.parse({})),
  limits: limitsSection.default(limitsSection.parse({})),
  countdown: countdownSection.default(countdownSection.parse({})),
  races: racesSection.default(racesSection.parse({})),
  logging: loggingSection.default(loggingSection.parse({})),
  database: databaseSection.default(databaseSection.parse({})),
  discord: discordSection.default(discordSection.parse({})),
  plugins: pluginsSection.default(pluginsSection.parse({})),
  http: httpSection.default(httpSection.parse({})),
  identity: identitySection.default(identitySection.parse({})),
});

export type Config = z.infer<typeof configSchema>;
export type ServerSettings = Config['server'];
export type TimingSettings = Config['timing'];
export type LimitSettings = Config['limits'];
export type CountdownSettings = Config['countdown'];
export type CountdownPreset = z.infer<typeof countdownPreset>;
export type RaceSettings = Config['races'];
export type LoggingSettings = Config['logging'];
export type DatabaseSettings = Config['database'];
export type DiscordSettings = Config['discord'];
export type PluginSettings = Config['plugins'];
export type HttpSettings = Config['http'];
export type IdentitySettings = Config['identity'];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** All defaults, as if there were no config file. */
export function defaultConfig(): Config {
  return configSchema.parse({});
}

function keyName(path: readonly PropertyKey[]): string {
  const [section, ...rest] = path.map(String);
  if (section === undefined) return 'the file';
  return rest.length === 0 ? `[${section}]` : `[${section}] ${rest.join('.')}`;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  return value;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'a table';
  return `${typeof value} ${String(value)}`;
}

const TYPE_NAMES: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  string: 'a string',
  object: 'a table',
};

function explain(issue: z.core.$ZodIssue, data: unknown): string {
  const got = describeValue(valueAt(data, issue.path));
  switch (issue.code) {
    case 'unrecognized_keys': {
      const plural = issue.keys.length > 1 ? 's' : '';
      if (issue.path.length === 0) return `unknown section${plural} ${issue.keys.map((key) => `[${key}]`).join(', ')}`;
      return `${keyName(issue.path)}: unknown key${plural} ${issue.keys.join(', ')}`;
    }
    case 'invalid_type':
      return `${keyName(issue.path)}: expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${got}`;
    case 'too_small':
      return `${keyName(issue.path)}: expected ${issue.origin === 'string' ? 'a non-empty string' : `a number ≥ ${issue.minimum}`}, got ${got}`;
    case 'too_big':
      return `${keyName(issue.path)}: expected a number ≤ ${issue.maximum}, got ${got}`;
    case 'invalid_value':
      return `${keyName(issue.path)}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
    default:
      return `${keyName(issue.path)}: ${issue.message}, got ${got}`;
  }
}

/** Validates already-parsed TOML data (also used by tests and by code that embeds the server). */
export function parseConfig(data: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
    throw new ConfigError(`${source}: ${explain(issue, data)}${more}`);
  }
  checkCountdownLengths(result.data.countdown, source);
  const raceCountdown = result.data.races.countdown;
  if (raceCountdown !== undefined && raceCountdown > result.data.countdown.max_delay) {
    throw new ConfigError(
      `${source}: [races] countdown: expected at most [countdown] max_delay (${result.data.countdown.max_delay}), got number ${raceCountdown}`,
    );
  }
  checkHttpSettings(result.data.http, source);
  return result.data;
}

/**
 * The management API may only run without a token when nothing but this machine can reach it,
 * and the connection cap must leave room for pages and the API beside the live viewers.
 */
function checkHttpSettings(http: HttpSettings, source: string): void {
  // A name that merely starts with "127." (127.example.org) can resolve anywhere: only an address counts.
  const loopback =
    http.hostname === 'localhost' ||
    http.hostname === '::1' ||
    (isIPv4(http.hostname) && http.hostname.startsWith('127.'));
  if (http.enabled && http.token === '' && !loopback) {
    throw new ConfigError(
      `${source}: [http] token: expected a token when hostname is ${JSON.stringify(http.hostname)} (not loopback), got ""`,
    );
  }
  if (http.max_connections <= http.max_live_viewers) {
    throw new ConfigError(
      `${source}: [http] max_connections: expected more than max_live_viewers (${http.max_live_viewers}), as every viewer holds a connection, got number ${http.max_connections}`,
    );
  }
}

/** Countdown lengths are each checked against max_delay, which zod cannot express on its own. */
function checkCountdownLengths(countdown: CountdownSettings, source: string): void {
  const lengths: Array<[string, number]> = [
    ['delay', countdown.delay],
    ...Object.entries(countdown.presets).map(([name, preset]): [string, number] => [
      `presets.${name}.delay`,
      preset.delay,
    ]),
  ];
  for (const [key, seconds] of lengths) {
    if (seconds > countdown.max_delay) {
      throw new ConfigError(
        `${source}: [countdown] ${key}: expected at most max_delay (${countdown.max_delay}), got number ${seconds}`,
      );
    }
  }
}

/**
 * Reads the config file. A missing file is only an error when the path was given explicitly;
 * otherwise it means "use the defaults".
 */
export function loadConfig(path: string, options: { required: boolean }): { config: Config; loadedFrom?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !options.required) return { config: defaultConfig() };
    throw new ConfigError(`${path}: cannot read the config file (${code ?? String(error)})`);
  }
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      throw new ConfigError(
        `${path}: not valid TOML at line ${error.line}, column ${error.column}: ${error.message.split('\n')[0]}`,
      );
    }
    throw error;
  }
  return { config: parseConfig(data, path), loadedFrom: path };
}
