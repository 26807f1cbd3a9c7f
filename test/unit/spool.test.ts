// The spool of a model rebalance's answer: pieces put in any order, of any
// size (several in one write, or one larger than a write), streamed back as
// one JSON array in sequence order.
import { createHash } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { JsonSpool } from '../../src/http/spool.js';

describe('JsonSpool', () => {
  it('streams pieces of every size back in sequence order, whatever order they were put in', async () => {
    const pieces = Array.from({ length: 300 }, (_, i) =>
      JSON.stringify({ seq: i, text: `é€${'x'.repeat(i % 7 === 0 ? 40_000 : 500)}`, big: i === 150 ? 'y'.repeat(1_500_000) : null }),
    );
    const spool = await JsonSpool.create(pieces.length);
    const order = pieces.map((_, i) => i).sort((a, b) => ((a * 7919) % 300) - ((b * 7919) % 300));
    for (const seq of order) spool.put(seq, pieces[seq]!);
    const answer = JSON.parse(await text(spool.stream())) as { seq: number }[];
    expect(answer.map((p) => p.seq)).toEqual(pieces.map((_, i) => i));
    expect(JSON.stringify(answer)).toBe(`[${pieces.join(',')}]`);
  });

  it('copies pieces put as bytes, so the writer may reuse its buffer at once (the model rebalance writes each answer into one)', async () => {
    const pieces = Array.from({ length: 40 }, (_, i) => JSON.stringify({ seq: i, text: 'é'.repeat(i === 20 ? 1_200_000 : 300 + i) }));
    const spool = await JsonSpool.create(pieces.length);
    const scratch = Buffer.alloc(3_000_000);
    for (const [seq, piece] of pieces.entries()) {
      const length = scratch.write(piece);
      spool.put(seq, scratch.subarray(0, length));
      scratch.fill(0x20); // the next piece overwrites what this one was written from
    }
    // Digests, not the 2 MB texts: a failure is reported at once, not after a diff of megabytes.
    const digest = (t: string) => createHash('sha256').update(t).digest('hex');
    expect(digest(await text(spool.stream()))).toBe(digest(`[${pieces.join(',')}]`));
  });
});
