// The client against the real service, through a TCP proxy the tests cut: what an application sees
// when the network drops, the service restarts, the token expires, or the token is no good.
//   FLUXGATE_JAR=../../app/target/fluxgate-app-*.jar (plus the service's database settings) npm test
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from '../fluxgate.js';
import { Service, Proxy, newUser, startWriter, eventually, psql, WAIT_MS } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LONG = { timeout: 5 * 60000 };
// What the tests count on: tokens that expire during a test, three sessions per user, a quick start,
// and room for the users they register from one address.
const service = new Service({
  FLUXGATE_SECURITY_TOKEN_TTL: '10s',
  FLUXGATE_CHANGES_MAX_SESSIONS_PER_USER: '3',
  FLUXGATE_WARMUP_MAX_DURATION: '0s',
  FLUXGATE_SECURITY_THROTTLE_REGISTRATIONS_PER_ADDRESS: '1000',
});
let proxy;
const clients = [];

before(async () => {
  await service.start();
  proxy = await new Proxy(service).start();
});

after(async () => {
  clients.forEach((client) => client.close());
  await proxy?.close();
  await service.stop();
});

/** A client through the proxy, with what the application saw: statuses and errors. */
function connect(token, options = {}) {
  const client = createClient({ url: proxy.url, token, backoff: { initialMs: 100, maxMs: 2000 }, ...options });
  const seen = { statuses: [], errors: [] };
  client.onStatus((status) => seen.statuses.push(status));
  client.onError((error) => seen.errors.push(error));
  clients.push(client);
  return { client, seen };
}

/** Collects a subscription's changes whose title starts with {@code prefix}. */
function collect(events, prefix) {
  return (event) => {
    if (event.type === 'database_change' && String(event.data?.title).startsWith(prefix)) events.push(event);
  };
}

/** A client watching {@code user}'s own posts whose title starts with {@code prefix}, live. */
async function watchOwnPosts(user, prefix, options = {}, token = user.login) {
  const { client, seen } = connect(token, options);
  const events = [];
  const sub = client.subscribe('post_changes', { filter: { authorId: { eq: user.id } } }, collect(events, prefix));
  await sub.ready;
  return { client, seen, sub, events };
}

/** Every acknowledged post exactly once, nothing but what was written, in commit order. */
async function assertEveryPostOnceInOrder(events, writer) {
  await eventually(() => writer.acked.every((title) => events.some((event) => event.data.title === title)),
    WAIT_MS, 'every acknowledged post to arrive');
  const titles = events.map((event) => event.data.title);
  assert.equal(new Set(titles).size, titles.length, 'no post twice');
  const known = new Set([...writer.acked, ...writer.uncertain]);
  assert.deepEqual(titles.filter((title) => !known.has(title)), [], 'nothing that was not written');
  const ids = events.map((event) => event.data.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'in commit order (one writer: ascending ids)');
  assert.ok(writer.acked.length > 0);
}

test('live delivery with a filter and columns', async () => {
  const author = await newUser(service, 'Filter Author');
  const stranger = await newUser(service, 'Filter Stranger');
  const { client, seen } = connect(author.login);
  const events = [];
  const sub = client.subscribe('post_changes', { filter: { authorId: { eq: author.id } }, columns: ['title'] },
    collect(events, 'filtered'));
  await sub.ready;
  assert.equal(sub.status, 'live');
  assert.ok(sub.cursor, 'a plain subscription starts at its subscribed cursor');
  const theirs = startWriter(service, stranger, 'filtered theirs', { count: 3 });
  await theirs.done;
  const mine = startWriter(service, author, 'filtered mine', { count: 3 });
  await mine.done;
  await eventually(() => events.length === 3);
  assert.deepEqual(events.map((event) => event.data.title), mine.acked);
  assert.deepEqual(Object.keys(events[0].data).sort(), ['id', 'title'], 'only the columns asked for, and the key');
  assert.equal(sub.cursor, events[2].cursor, 'the cursor is the last one delivered');
  assert.deepEqual(seen.errors, []);
  client.close();
});

for (const transport of ['websocket', 'sse']) {
  test(`connections cut twice while a writer posts and tokens expire: every post once, in order (${transport})`, LONG, async () => {
    const user = await newUser(service, 'Cut Twice');
    const { client, seen, events } = await watchOwnPosts(user, 'cut', { transport });
    assert.equal(client.transport, transport);
    // About 10 s of writing: a token lifetime (FLUXGATE_SECURITY_TOKEN_TTL) passes during it.
    const writer = startWriter(service, user, 'cut', { count: 150, pauseMs: 60 });
    await eventually(() => writer.acked.length >= 40);
    proxy.cut();
    await eventually(() => writer.acked.length >= 90);
    proxy.cut();
    await writer.done;
    await assertEveryPostOnceInOrder(events, writer);
    assert.ok(seen.statuses.includes('reconnecting'), 'the drops were seen as reconnects: ' + seen.statuses);
    await eventually(() => client.status === 'open');
    assert.deepEqual(seen.errors, []);
    client.close();
  });
}

test('the service restarted under it: every post once, in order', LONG, async () => {
  const user = await newUser(service, 'Restart');
  const { client, seen, events } = await watchOwnPosts(user, 'restart');
  const writer = startWriter(service, user, 'restart');
  await eventually(() => writer.acked.length >= 30);
  await service.restart();
  const before = writer.acked.length;
  await eventually(() => writer.acked.length >= before + 30);
  await writer.stop();
  await assertEveryPostOnceInOrder(events, writer);
  assert.ok(seen.statuses.includes('reconnecting'));
  await eventually(() => client.status === 'open');
  // The token function signs in at the service, which was down: its own failures are reported
  // (after five in a row), nothing else is, and none of them stopped the client.
  assert.deepEqual(seen.errors.filter((error) => error.fatal || !/token function failed/.test(error.message)), []);
  client.close();
});

test('a token that expires during the run is replaced in place: nothing lost, no reconnect', LONG, async () => {
  const user = await newUser(service, 'Expiring');
  let asked = 0;
  const { client, seen, events } = await watchOwnPosts(user, 'expiring', {}, () => {
    asked++;
    return user.login();
  });
  const writer = startWriter(service, user, 'expiring', { pauseMs: 100 });
  // The service's tokens live 10 s (FLUXGATE_SECURITY_TOKEN_TTL): three lifetimes at least.
  await eventually(() => asked >= 4, 3 * WAIT_MS, 'three token refreshes');
  await writer.stop();
  await assertEveryPostOnceInOrder(events, writer);
  assert.deepEqual(seen.statuses, ['connecting', 'open'], 'the session never closed (no 4001)');
  assert.deepEqual(seen.errors, []);
  client.close();
});

test('without refreshing, an expired session (4001) comes back with a new token and loses nothing', LONG, async () => {
  const user = await newUser(service, 'Expired');
  const { client, seen, events } = await watchOwnPosts(user, 'expired', { refreshToken: false });
  const writer = startWriter(service, user, 'expired', { pauseMs: 100 });
  await eventually(() => seen.statuses.includes('reconnecting') && client.status === 'open', 3 * WAIT_MS, 'an expiry and a reconnect');
  const before = writer.acked.length;
  await eventually(() => writer.acked.length >= before + 10);
  await writer.stop();
  await assertEveryPostOnceInOrder(events, writer);
  assert.deepEqual(seen.errors, [], 'an expiry is not an error the application handles');
  client.close();
});

for (const transport of ['websocket', 'sse']) {
  test(`an invalid token stops the client with an error, without a reconnect storm (${transport})`, async () => {
    const before = proxy.connections;
    const { client, seen } = connect(() => 'not.a.token', { transport });
    const sub = client.subscribe('post_changes', () => {});
    await assert.rejects(sub.ready, (error) => error.fatal && error.status === 401);
    assert.equal(client.status, 'closed');
    assert.equal(seen.errors.length, 1);
    assert.equal(seen.errors[0].status, 401);
    // Absence takes a while to show: nothing more happens in the next second and a half.
    await sleep(1500);
    assert.ok(proxy.connections - before <= 2, 'at most the attempt and its diagnosis: ' + (proxy.connections - before));
    assert.equal(seen.errors.length, 1);
  });
}

test("'auto' falls back to SSE when WebSocket upgrades do not get through", async () => {
  const user = await newUser(service, 'Behind A Proxy');
  const blocking = await new Proxy(service).start();
  blocking.blockUpgrades = true;
  try {
    const client = createClient({ url: blocking.url, token: user.login, transport: 'auto' });
    clients.push(client);
    const events = [];
    const sub = client.subscribe('post_changes', { filter: { authorId: { eq: user.id } } }, collect(events, 'fallback'));
    await sub.ready;
    assert.equal(client.transport, 'sse');
    const writer = startWriter(service, user, 'fallback', { count: 3 });
    await writer.done;
    await assertEveryPostOnceInOrder(events, writer);
    client.close();
  } finally {
    await blocking.close();
  }
});

for (const transport of ['websocket', 'sse']) {
  test(`unsubscribe stops delivery to that subscription only (${transport})`, async () => {
    const user = await newUser(service, 'Unsubscriber');
    const { client, seen } = connect(user.login, { transport });
    const kept = [];
    const dropped = [];
    const filter = { authorId: { eq: user.id } };
    const keep = client.subscribe('post_changes', { id: 'kept', filter }, collect(kept, 'unsub'));
    const drop = client.subscribe('post_changes', { id: 'dropped', filter }, collect(dropped, 'unsub'));
    await Promise.all([keep.ready, drop.ready]);
    await startWriter(service, user, 'unsub before', { count: 1 }).done;
    await eventually(() => kept.length === 1 && dropped.length === 1);
    drop.unsubscribe();
    assert.equal(drop.status, 'closed');
    await startWriter(service, user, 'unsub after', { count: 2 }).done;
    // The kept one got both; the same session would have named the dropped one on those frames.
    await eventually(() => kept.length === 3);
    assert.deepEqual(dropped.map((event) => event.data.title), ['unsub before 0']);
    assert.deepEqual(seen.errors, []);
    client.close();
  });
}

test('an AbortSignal ends a subscription, or the whole client', async () => {
  const user = await newUser(service, 'Aborter');
  const clientSignal = new AbortController();
  const { client } = connect(user.login, { signal: clientSignal.signal });
  const kept = [];
  const aborted = [];
  const filter = { authorId: { eq: user.id } };
  const subSignal = new AbortController();
  const keep = client.subscribe('post_changes', { filter }, collect(kept, 'abort'));
  const stop = client.subscribe('post_changes', { filter, signal: subSignal.signal }, collect(aborted, 'abort'));
  await Promise.all([keep.ready, stop.ready]);
  subSignal.abort();
  assert.equal(stop.status, 'closed');
  await startWriter(service, user, 'abort', { count: 2 }).done;
  await eventually(() => kept.length === 2);
  assert.deepEqual(aborted, []);
  clientSignal.abort();
  assert.equal(client.status, 'closed');
  assert.equal(keep.status, 'closed');
});

for (const transport of ['websocket', 'sse']) {
  test(`past the per-user session limit (429) it waits as Retry-After says, then connects (${transport})`, LONG, async () => {
    const user = await newUser(service, 'Limited');
    // The service allows 3 sessions per user here (FLUXGATE_CHANGES_MAX_SESSIONS_PER_USER).
    const holders = [];
    for (let i = 0; i < 3; i++) {
      const { client } = connect(user.login);
      await client.subscribe('post_changes', () => {}).ready;
      holders.push(client);
    }
    const before = proxy.connections;
    const { client, seen } = connect(user.login, { transport });
    const sub = client.subscribe('post_changes', () => {});
    await eventually(() => seen.statuses.includes('reconnecting'));
    holders.pop().close();
    await sub.ready;
    assert.equal(sub.status, 'live');
    assert.deepEqual(seen.errors, [], 'a limit is waited out, not reported as the end');
    // Retry-After is 5 s: the refused attempt (and its diagnosis), then the one that connects.
    assert.ok(proxy.connections - before <= 4, 'Retry-After was honoured: ' + (proxy.connections - before) + ' connections');
    holders.forEach((holder) => holder.close());
    client.close();
  });

  test(`a subscription the server refuses rejects its ready; the others go on (${transport})`, async () => {
    const user = await newUser(service, 'Refused');
    const { client, seen } = connect(user.login, { transport });
    const refusedFrames = [];
    const good = [];
    const bad = client.subscribe('post_changes', { id: 'bad', filter: { nosuchfield: { eq: 1 } } }, (frame) => refusedFrames.push(frame));
    const fine = client.subscribe('post_changes', { id: 'fine', filter: { authorId: { eq: user.id } } }, collect(good, 'refusal'));
    await assert.rejects(bad.ready, (error) => !error.fatal);
    assert.equal(bad.status, 'closed');
    assert.equal(refusedFrames.at(-1).type, 'error');
    await fine.ready;
    await startWriter(service, user, 'refusal', { count: 2 }).done;
    await eventually(() => good.length === 2);
    assert.equal(client.status, 'open');
    assert.equal(seen.errors.length, 1, 'the refusal is reported once');
    assert.ok(!seen.errors[0].fatal);
    client.close();
  });
}

test('5,000 events through one subscription with bounded memory', LONG, async () => {
  const user = await newUser(service, 'Bulk');
  const { client, seen } = connect(user.login);
  let count = 0;
  let lastId = 0;
  let ordered = true;
  const sub = client.subscribe('post_changes', { filter: { authorId: { eq: user.id } } }, (event) => {
    if (event.type !== 'database_change') return;
    ordered &&= event.data.id > lastId;
    lastId = event.data.id;
    count++;
  });
  await sub.ready;
  global.gc();
  const heapBefore = process.memoryUsage().heapUsed;
  // One transaction of 5,000 rows of 2 KB: 10 MB of changes if the client kept them.
  await psql(`INSERT INTO posts (author_id, title, body) SELECT ${Number(user.id)}, 'bulk ' || g, repeat('x', 2000)
              FROM generate_series(1, 5000) g`);
  await eventually(() => count === 5000, 2 * WAIT_MS, '5,000 events');
  assert.ok(ordered, 'in commit order');
  global.gc();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(grown < 4 * 1024 * 1024, 'heap grew ' + grown + ' bytes');
  assert.deepEqual(seen.errors, []);
  client.close();
});

test('the OpenAPI description passes the recommended lint rules', async () => {
  const response = await fetch(service.url + '/v3/api-docs');
  assert.equal(response.status, 200);
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'fluxgate-openapi-')), 'openapi.json');
  await writeFile(file, await response.text());
  const redocly = path.join(HERE, '..', 'node_modules', '.bin', 'redocly');
  const { code, stdout, stderr } = await new Promise((resolve) => {
    execFile(redocly, ['lint', '--extends=recommended', '--format=json', file], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      timeout: WAIT_MS,
    }, (failure, stdout, stderr) => resolve({ code: failure ? failure.code ?? 1 : 0, stdout, stderr }));
  });
  const report = JSON.parse(stdout);
  assert.deepEqual(report.problems.map((problem) => problem.ruleId + ': ' + problem.message), [], 'lint problems');
  assert.deepEqual(report.totals, { errors: 0, warnings: 0, ignored: 0 });
  assert.equal(code, 0, stderr);
});
