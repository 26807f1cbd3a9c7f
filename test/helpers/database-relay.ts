// A database the test can make fail: at one kind of command, or whole (cut and
// restored), for the tests of what a failed write leaves behind and answers.
import { createServer, type Server, Socket } from 'node:net';
import { BSON } from 'mongodb';
import { startEmbedded } from '../../src/dev-database.js';

/**
 * A TCP relay to a database of its own that reads each command on its way and
 * drops the connection instead of passing on the ones blocked (say every
 * `insert` into `rebalances`): the database fails exactly there, as a stall
 * or a broken connection would.
 */
export interface Relay {
  readonly uri: string;
  block(command: string, collection: string): void;
  unblock(): void;
  /** Every connection dropped, new ones refused, until `restore`. */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function databaseRelay(): Promise<Relay> {
  // A standalone server: it does not name its real address as a replica-set member.
  const database = await startEmbedded('standalone');
  const target = new URL(database.uri);
  const blocked = new Set<string>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((from) => {
    const to = new Socket();
    to.connect(Number(target.port), target.hostname);
    for (const s of [from, to]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    from.on('close', () => to.destroy());
    to.on('close', () => from.destroy());
    to.pipe(from);
    let pending = Buffer.alloc(0);
    from.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const message = pending.subarray(0, pending.readInt32LE(0));
        pending = pending.subarray(message.length);
        // OP_MSG (2013): header (16 bytes), flags (4), then section kind 0: the command document.
        if (message.readInt32LE(12) === 2013 && message[20] === 0) {
          const command = BSON.deserialize(message.subarray(21, 21 + message.readInt32LE(21)));
          const name = Object.keys(command)[0] ?? '';
          if (blocked.has(`${name} ${String(command[name])}`)) {
            from.destroy();
            return;
          }
        }
        to.write(message);
      }
    });
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(0);
  const port = (server.address() as { port: number }).port;
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    // Direct: the driver must not discover the real address from the replica-set answer.
    uri: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    block: (command, collection) => blocked.add(`${command} ${collection}`),
    unblock: () => blocked.clear(),
    cut,
    restore: () => listen(port),
    close: async () => {
      if (server.listening) await cut();
      await database.stop();
    },
  };
}
