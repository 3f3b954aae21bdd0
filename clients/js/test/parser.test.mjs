// The event-stream parser on its own: line ends of every kind, split anywhere, and its size bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventStreamParser } from '../fluxgate.js';

const STREAM = 'id: a\r\nevent: database_change\r\ndata: {"n":1,\r\ndata: "m":2}\r\n\r\n: keep-alive\n\nevent: close\rdata: {}\r\r';
const EXPECTED = [
  { type: 'database_change', data: '{"n":1,\n"m":2}', id: 'a' },
  { type: 'close', data: '{}', id: null },
];

test('events come out the same however the text is split', () => {
  for (let cut = 1; cut <= STREAM.length; cut++) {
    const events = [];
    const push = eventStreamParser((event) => events.push(event));
    for (let at = 0; at < STREAM.length; at += cut) assert.ok(push(STREAM.slice(at, at + cut)));
    assert.deepEqual(events, EXPECTED, 'chunks of ' + cut);
  }
});

test('an event past the bound stops the parser, in data lines or in one unfinished line', () => {
  const manyLines = eventStreamParser(() => assert.fail('no event'), 1000);
  let accepted = true;
  for (let i = 0; i < 20 && accepted; i++) accepted = manyLines('data: ' + 'x'.repeat(100) + '\n');
  assert.equal(accepted, false);
  const oneLine = eventStreamParser(() => assert.fail('no event'), 1000);
  assert.equal(oneLine('data: ' + 'y'.repeat(2000)), false);
});
