// Streams large JSON answers (a rebalance of 10 000 portfolios) piece by
// piece, so memory stays flat however big the answer is.
import { Readable } from 'node:stream';

/**
 * Concatenates raw JSON text pieces and arrays streamed from async
 * iterables ("[" item "," item ... "]"), as one readable stream.
 */
export function jsonStream(pieces: readonly (string | AsyncIterable<unknown>)[]): Readable {
  async function* generate(): AsyncGenerator<string> {
    for (const piece of pieces) {
      if (typeof piece === 'string') {
        yield piece;
        continue;
      }
      yield '[';
      let first = true;
      let buffer = '';
      for await (const item of piece) {
        buffer += (first ? '' : ',') + JSON.stringify(item);
        first = false;
        if (buffer.length > 64 * 1024) {
          yield buffer;
          buffer = '';
        }
      }
      yield `${buffer}]`;
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

export async function* mapAsync<T, U>(source: AsyncIterable<T>, map: (item: T) => U): AsyncGenerator<U> {
  for await (const item of source) yield map(item);
}

/**
 * Sends JSON text, its UTF-8 bytes or a JSON stream as is. Routes that stream keep their zod
 * response schema for the OpenAPI document; Fastify serialises only objects.
 */
export function sendJson(
  reply: { type(contentType: string): { send(payload: unknown): unknown } },
  body: Readable | string | Buffer,
): void {
  reply.type('application/json').send(body);
}
