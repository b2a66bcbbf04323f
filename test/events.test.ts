import { describe, expect, it } from 'vitest';
import { EventBus } from '../src/events.js';
import { join, startServer } from './helpers.js';

describe('event bus', () => {
  it('reports a throwing or rejecting listener and still calls the others', async () => {
    const failures: string[] = [];
    const bus = new EventBus((event, error) => failures.push(`${event}: ${(error as Error).message}`));
    const seen: string[] = [];
    bus.on('serverMessage', () => {
      throw new Error('sync boom');
    });
    bus.on('serverMessage', async () => {
      throw new Error('async boom');
    });
    bus.on('serverMessage', ({ text }) => void seen.push(text));
    bus.emit('serverMessage', { text: 'hi' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['hi']);
    expect(failures).toEqual(['serverMessage: sync boom', 'serverMessage: async boom']);
  });

  it('stops calling a listener once it is removed', () => {
    const bus = new EventBus();
    let calls = 0;
    const off = bus.on('serverMessage', () => void calls++);
    bus.emit('serverMessage', { text: 'one' });
    off();
    bus.emit('serverMessage', { text: 'two' });
    expect(calls).toBe(1);
  });

  it('keeps the ghost server relaying when a subscriber throws on every event', async () => {
    const server = await startServer();
    server.bus.on('clientConnected', () => {
      throw new Error('subscriber bug');
    });
    server.bus.on('clientMessage', () => {
      throw new Error('subscriber bug');
    });
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    alice.sendMessage('still here');
    expect(await bob.waitFor((p) => p.type === 'message')).toMatchObject({ text: 'still here' });
  });
});
