// What the client's tests need around it: the real service (started from its jar, restartable), a
// TCP proxy the test can cut, users, a writer posting through the REST API, and psql for bulk rows.
import { spawn, execFile } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';

/** A wait that means broken, not slow: a cold JVM on a busy two-core machine. */
export const WAIT_MS = 60000;

export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls {@code check} until it returns a truthy value, or fails after {@code ms}. */
export async function eventually(check, ms = WAIT_MS, what = 'condition') {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (failure) {
      last = failure;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what + (last instanceof Error ? ': ' + last.message : ''));
    await sleep(50);
  }
}

/**
 * The service from its jar ($FLUXGATE_JAR), configured by the environment this process got (the
 * database, Redis, MongoDB and the signing secret), on a port of its own.
 */
export class Service {
  constructor(env = {}) {
    if (!process.env.FLUXGATE_JAR) throw new Error('FLUXGATE_JAR must name the service jar (mvn package builds it)');
    this.env = env;
    this.process = null;
    this.log = [];
  }

  async start() {
    this.port ??= await freePort();
    this.url = 'http://127.0.0.1:' + this.port;
    const child = spawn(process.env.JAVA || 'java', ['-Xmx384m', '-jar', process.env.FLUXGATE_JAR], {
      env: { ...process.env, ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    const keep = (chunk) => {
      this.log.push(chunk.toString());
      if (this.log.length > 400) this.log.shift();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error('the service exited with ' + child.exitCode + '\n' + this.tail());
      const response = await fetch(this.url + '/actuator/health/readiness');
      return response.status === 200;
    }, 120000, 'the service to be ready');
  }

  /** SIGTERM, as Kubernetes stops a pod: open sessions get 1001. */
  async stop() {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([once(child, 'exit'), sleep(WAIT_MS).then(() => child.kill('SIGKILL'))]);
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  tail() {
    return this.log.join('').slice(-4000);
  }
}

/** A TCP proxy in front of the service that the test can cut, count, and make refuse WebSocket upgrades. */
export class Proxy {
  constructor(target) {
    this.target = target;
    this.sockets = new Set();
    this.connections = 0;
    this.blockUpgrades = false;
  }

  async start() {
    this.server = net.createServer((client) => this.#accept(client));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = 'http://127.0.0.1:' + this.server.address().port;
    return this;
  }

  #accept(client) {
    this.connections++;
    const upstream = net.connect(this.target.port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    let first = true;
    client.on('data', (chunk) => {
      if (first && this.blockUpgrades) {
        // What a proxy that does not pass upgrades does: the request arrives as a plain GET.
        chunk = Buffer.from(chunk.toString('latin1').replace(/\r\nupgrade:/i, '\r\nx-was-upgrade:'), 'latin1');
      }
      first = false;
      upstream.write(chunk);
    });
    upstream.pipe(client);
  }

  /** Every connection through the proxy reset at once, as a network that drops does. */
  cut() {
    for (const socket of [...this.sockets]) socket.resetAndDestroy();
  }

  async close() {
    this.cut();
    this.server.close();
  }
}

async function json(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch (notJson) {
    return text;
  }
}

/** A new user of {@code service}; {@code login()} signs in again and answers a fresh token. */
export async function newUser(service, name = 'Client Tester') {
  const email = 'js-' + randomUUID().slice(0, 12) + '@example.com';
  const password = 'password-' + randomUUID().slice(0, 8);
  const registered = await fetch(service.url + '/api/auth/register', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, email, password }),
  });
  if (registered.status !== 201) throw new Error('register: ' + registered.status + ' ' + JSON.stringify(await json(registered)));
  const user = { ...(await json(registered)), email, logins: 0 };
  user.login = async () => {
    const response = await fetch(service.url + '/api/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    if (response.status !== 200) throw new Error('login: ' + response.status);
    user.logins++;
    return (await json(response)).token;
  };
  return user;
}

/**
 * Posts as {@code user}, one after another, until stopped or {@code count} are written. Each title
 * the service acknowledged (201) is in {@code acked}, in order; a post whose outcome is unknown (the
 * connection broke mid-request, the service stopping) is in {@code uncertain}.
 */
export function startWriter(service, user, prefix, { count = Infinity, pauseMs = 20 } = {}) {
  const writer = { acked: [], uncertain: new Set(), stopped: false };
  writer.done = (async () => {
    let token = await user.login();
    for (let i = 0; i < count && !writer.stopped; i++) {
      const title = prefix + ' ' + i;
      try {
        let response = await post(service, token, title);
        if (response.status === 401) {
          token = await user.login();
          response = await post(service, token, title);
        }
        if (response.status === 201) writer.acked.push(title);
        else writer.uncertain.add(title);
      } catch (unreachable) {
        writer.uncertain.add(title);
        await sleep(100);
      }
      await sleep(pauseMs);
    }
  })();
  writer.stop = async () => {
    writer.stopped = true;
    await writer.done;
  };
  return writer;
}

async function post(service, token, title) {
  const response = await fetch(service.url + '/api/posts', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
    body: JSON.stringify({ title, body: 'written by the client tests' }),
  });
  await response.arrayBuffer();
  return response;
}

/** Runs SQL with psql against the service's database (PG* from the environment). */
export function psql(sql) {
  return new Promise((resolve, reject) => {
    execFile('psql', ['-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { env: process.env }, (failure, stdout, stderr) => {
      if (failure) reject(new Error(stderr || failure.message));
      else resolve(stdout);
    });
  });
}
