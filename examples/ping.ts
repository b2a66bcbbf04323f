/**
 * The example plugin from the plugin API's description: `/ping` answers "pong!" to whoever asked,
 * `/dm <player> <message...>` sends a private server message to one player, and every relayed
 * chat message is written to the server's log.
 *
 * Enable it in config.toml:  [plugins] modules = ["./examples/ping.ts"]
 */
import { command, on, Plugin, ServerEvent, type IClient } from 'ghosting';

export class ExamplePlugin extends Plugin {
  override name = 'Example Plugin';
  override version = '1.0.0';
  override authors = ['Someone'];
  override license = 'MIT';

  @command('ping', 'Ping the server!')
  async onPing() {
    await this.respond('pong!');
  }

  @command('dm <player> <message...>', 'DM a player!')
  async onDirectMessage(client: IClient, message: string) {
    await this.respondToClient(client, message);
  }

  @on(ServerEvent.ClientMessage)
  async onClientMessage(message: string, client: IClient) {
    this.log.info({ player: client.name, message }, 'chat seen by the example plugin');
  }
}
