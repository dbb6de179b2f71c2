// Pre-encoded, compressed reply fragments: pointers into the zone suffix of the question and
// back into the same fragment, patched where the fragment lands in the reply.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockBuilder, MAX_POINTER, pick, writeBlock } from '../../server/compress.ts';

/** Reads a (possibly compressed) name at `o`. */
function readName(b: Buffer, o: number): string {
  const parts: string[] = [];
  for (let hops = 0; hops < 20; ) {
    const l = b[o]!;
    if (l === 0) return parts.join('.');
    if (l >= 0xc0) {
      o = ((l & 0x3f) << 8) | b[o + 1]!;
      hops++;
      continue;
    }
    parts.push(b.toString('latin1', o + 1, o + 1 + l));
    o += 1 + l;
  }
  throw new Error('pointer loop');
}

test('names compress against the zone suffix (any case) and earlier names of the block', () => {
  const b = new BlockBuilder('Bl.Example');
  const n1 = b.name('ns1.bl.example'); // "ns1" + pointer to the zone
  const n2 = b.name('NS.Example.NET'); // "NS" "Example" "NET" written, since only "example" is in the zone
  const n3 = b.name('ns2.example.net'); // "ns2" + pointer to "Example.NET" of n2
  const n4 = b.name('NS.EXAMPLE.net'); // the whole of n2
  const n5 = b.name('bl.example'); // the zone itself
  const blk = b.build();
  assert.equal(n1, 0);
  assert.equal(n4, n2);
  assert.equal(n5, -1);
  assert.ok(n3 > n2);
  // Place the zone name in a fake message at 20 (as in a question "x...bl.example" with the
  // query's case) and the block at 40.
  const out = Buffer.alloc(200);
  Buffer.from([2, 66, 76, 7, ...Buffer.from('EXAMPLE'), 0]).copy(out, 20);
  const end = writeBlock(out, 40, blk, 20);
  assert.equal(end, 40 + blk.bytes.length);
  assert.equal(readName(out, 40 + n1), 'ns1.BL.EXAMPLE');
  assert.equal(readName(out, 40 + n2), 'NS.Example.NET');
  assert.equal(readName(out, 40 + n3), 'ns2.Example.NET');
  // 4 bytes "ns1"+ptr... : ns1 (4) + ptr (2), NS.Example.NET (16), ns2 (4) + ptr (2), ptr (2), ptr (2)
  assert.equal(blk.bytes.length, 6 + 16 + 6 + 2 + 2);
});

test('the root zone gives no zone pointers; the flat variant has no inner pointers', () => {
  const b = new BlockBuilder('', false);
  b.name('a.example');
  b.name('b.example');
  const blk = b.build();
  assert.equal(blk.fix.length, 0);
  assert.equal(blk.bytes.length, 11 * 2);
});

test('pick: the flat variant once the block would reach past 14-bit pointers', () => {
  const flat = new BlockBuilder('z.example', false);
  flat.name('ns.example.net');
  flat.name('ns2.example.net');
  const full = new BlockBuilder('z.example');
  full.name('ns.example.net');
  full.name('ns2.example.net');
  const blk = full.build(flat.build());
  assert.equal(pick(blk, 100), blk);
  assert.equal(pick(blk, MAX_POINTER), blk.flat);
});

test('rrHead/rdEnd write TYPE, CLASS IN, TTL and the RDATA length', () => {
  const b = new BlockBuilder('z.example');
  b.zonePointer();
  const at = b.rrHead(2, 3600);
  b.name('ns.z.example');
  b.rdEnd(at);
  const blk = b.build();
  assert.equal(blk.count, 1);
  assert.deepEqual([...blk.bytes.subarray(2, 12)], [0, 2, 0, 1, 0, 0, 0x0e, 0x10, 0, 5]);
  assert.deepEqual([...blk.fix], [0, -1, 15, -1]);
});
