/**
 * Greets every player who joins with a server message that only they see, and remembers in the
 * plugin's storage (the server's database) how often each name has joined:
 * "Welcome, Alice!" the first time, "Welcome back, Alice! This is your 3rd visit." afterwards.
 *
 * Enable it in config.toml:  [plugins] modules = ["./examples/welcome.ts"]
 */
import { on, Plugin, ServerEvent, type IClient } from 'ghosting';

/** 1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st, 22nd ... */
function ordinal(n: number): string {
  const suffixes: Record<string, string> = { one: 'st', two: 'nd', few: 'rd', other: 'th' };
  return `${n}${suffixes[new Intl.PluralRules('en', { type: 'ordinal' }).select(n)] ?? 'th'}`;
}

export class WelcomePlugin extends Plugin {
  override name = 'Welcome';
  override version = '1.0.0';
  override authors = ['ghosting'];
  override license = 'MIT';

  @on(ServerEvent.ClientConnect)
  async onJoin(client: IClient) {
    const key = `visits:${client.name}`;
    const visits = (this.storage.get<number>(key) ?? 0) + 1;
    this.storage.set(key, visits);
    await this.respondToClient(
      client,
      visits === 1
        ? `Welcome, ${client.name}!`
        : `Welcome back, ${client.name}! This is your ${ordinal(visits)} visit.`,
    );
  }
}
