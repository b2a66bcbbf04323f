// Starts a GhostServer from dist/ on a free loopback port, prints "PORT <n>", and once
// --clients N clients have joined: optionally starts a countdown and sends a server message.
// Stops itself after --seconds S. Usage:
//   node drive.mjs [--clients N] [--countdown] [--duration D] [--pre TEXT] [--post TEXT]
//                  [--server-message TEXT] [--heartbeat-ms MS] [--seconds S] [--stop-at S]
import { parseArgs } from 'node:util';
const dist = new URL('../../dist/', import.meta.url);
const { GhostServer } = await import(new URL('ghost/server.js', dist));
const { defaultConfig } = await import(new URL('config.js', dist));
const { createLogger } = await import(new URL('logger.js', dist));

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '2' },
    countdown: { type: 'boolean', default: false },
    duration: { type: 'string' },
    pre: { type: 'string' },
    post: { type: 'string' },
    'server-message': { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    seconds: { type: 'string', default: '20' },
    'stop-at': { type: 'string' },
  },
});
const config = defaultConfig();
config.server.hostname = '127.0.0.1';
config.server.port = 0;
if (values['heartbeat-ms']) config.timing.heartbeat_interval_ms = Number(values['heartbeat-ms']);
config.logging.level = 'debug';
const { logger, flush } = createLogger(config.logging, { isTTY: false });
const server = new GhostServer({ config, logger });
await server.start();
console.log(`PORT ${server.port}`);

const want = Number(values.clients);
const poll = setInterval(() => {
  if (server.listClients().length < want) return;
  clearInterval(poll);
  setTimeout(() => {
    if (values['server-message'] !== undefined) server.broadcastServerMessage(values['server-message']);
    if (values.countdown) {
      const options = {};
      if (values.duration !== undefined) options.duration = Number(values.duration);
      if (values.pre !== undefined) options.preCommands = values.pre;
      if (values.post !== undefined) options.postCommands = values.post;
      console.log('COUNTDOWN', JSON.stringify(server.startCountdown(options)));
    }
  }, 500);
}, 50);

const stop = async (why) => {
  clearInterval(poll);
  await server.stop(why);
  flush();
  process.exit(0);
};
setTimeout(() => stop('time limit'), Number(values['stop-at'] ?? values.seconds) * 1000);
process.on('SIGTERM', () => stop('SIGTERM'));
