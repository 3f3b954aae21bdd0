/*
 * Fluxgate's client for the change stream: subscribe to a channel and receive every change once, in
 * commit order, across dropped connections, server restarts and token expiry. One file, no
 * dependency, the same module in browsers and in Node.js 20+. The contract: API.md, "Client library
 * for JavaScript"; the usage: README.md beside this file.
 */

const DEFAULTS = {
  transport: 'auto',
  backoff: { initialMs: 250, maxMs: 10000 },
  heartbeatMs: 25000,
  heartbeatTimeoutMs: 10000,
  refreshMarginMs: 60000,
  refreshToken: true,
  dedupeWindow: 512,
};
/** A stream silent this long is taken for dead (the server sends a comment every 15 s). */
const SSE_SILENCE_MS = 45000;
/** The most text one server-sent event (or one WebSocket frame) may carry. */
const MAX_EVENT_CHARS = 16 * 1024 * 1024;
/** The server closes a socket whose client frame passes 64 KiB (1009): refuse such a subscribe here. */
const MAX_CLIENT_FRAME = 64 * 1024;
/** A connection up this long has worked: the next drop starts the backoff over. */
const STABLE_MS = 5000;
/** setTimeout's longest delay; a longer one fires at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** Frames the server answers when a subscription it had accepted could not go on (it is removed). */
const LATE_FAILURES = { 'Resume failed': 'resume', 'Snapshot failed': 'snapshot', 'Snapshot refused': 'snapshot' };

/** What the application sees when the client stops or a subscription is refused. */
export class FluxgateError extends Error {
  constructor(message, details = {}) {
    super(message);
    this.name = 'FluxgateError';
    this.status = details.status ?? null; // HTTP status of a refused connection
    this.code = details.code ?? null; // WebSocket close code, or the server's error string
    this.fatal = Boolean(details.fatal); // the client stopped: nothing more will be delivered
    this.detail = details.detail ?? null;
  }
}

export function createClient(options) {
  return new FluxgateClient(options);
}

/** Jittered exponential backoff: the nth wait is between half and all of min(max, initial * 2^n). */
class Backoff {
  constructor({ initialMs, maxMs }) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.attempt = 0;
  }

  next() {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  reset() {
    this.attempt = 0;
  }
}

/**
 * A timer that is replaced, never stacked, and can be cancelled. In Node only a reconnect keeps the
 * process alive ({@code keepsAlive}); a refresh, heartbeat or silence check does not.
 */
class Timer {
  constructor(keepsAlive = false) {
    this.keepsAlive = keepsAlive;
  }

  set(ms, action) {
    this.clear();
    const delay = Math.min(Math.max(0, ms), MAX_DELAY_MS);
    this.handle = setTimeout(delay < ms ? () => this.set(ms - delay, action) : action, delay);
    if (!this.keepsAlive && typeof this.handle?.unref === 'function') this.handle.unref();
  }

  clear() {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
  }
}

/** The cursors delivered last, so a repeat across a reconnect is dropped. */
class RecentCursors {
  constructor(size) {
    this.size = size;
    this.seen = new Set();
  }

  /** True when {@code cursor} is new (and now remembered). */
  add(cursor) {
    if (this.seen.has(cursor)) return false;
    this.seen.add(cursor);
    if (this.seen.size > this.size) this.seen.delete(this.seen.values().next().value);
    return true;
  }
}

/** The `exp` of a JWT, in epoch milliseconds, or null when it has none readable. No verification: the server does that. */
export function tokenExpiry(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = typeof atob === 'function' ? atob(payload) : Buffer.from(payload, 'base64').toString('binary');
    const exp = JSON.parse(json).exp;
    return Number.isFinite(exp) ? exp * 1000 : null;
  } catch (unreadable) {
    return null;
  }
}

/** Runs {@code action} once {@code signal} aborts (at once if it has); nothing without a signal. */
function whenAborted(signal, action) {
  if (!signal) return;
  if (signal.aborted) queueMicrotask(action);
  else signal.addEventListener('abort', action, { once: true });
}

/** What the server would refuse without naming the subscription: refused here, before anything is sent. */
function checkSubscribe(channel, options) {
  if (typeof channel !== 'string' || channel === '') throw new TypeError('channel must be a non-empty string');
  if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length < 1 || options.id.length > 64)) {
    throw new TypeError('id must be a string of 1 to 64 characters');
  }
  if (options.columns != null && !(Array.isArray(options.columns) && options.columns.every((c) => typeof c === 'string'))) {
    throw new TypeError('columns must be an array of strings');
  }
  if (options.filter != null && (typeof options.filter !== 'object' || Array.isArray(options.filter))) {
    throw new TypeError('filter must be an object');
  }
  if (options.resumeFrom != null && typeof options.resumeFrom !== 'string') throw new TypeError('resumeFrom must be a cursor string');
  if (options.signal != null && typeof options.signal.addEventListener !== 'function') throw new TypeError('signal must be an AbortSignal');
}

class Subscription {
  #client;

  constructor(client, id, channel, options, callback) {
    this.#client = client;
    this.id = id;
    this.channel = channel;
    this.filter = options.filter ?? null;
    this.columns = options.columns ?? null;
    this.snapshot = Boolean(options.snapshot) && !options.resumeFrom;
    /** Where a resume continues from: the last change delivered, or where the subscription started. */
    this.cursor = options.resumeFrom ?? null;
    /** 'pending' until the server says it is live, 'live', or 'closed' for good. */
    this.status = 'pending';
    this.callback = callback;
    this.recent = new RecentCursors(client.options.dedupeWindow);
    this.snapshotDone = false;
    /** What this connection's subscribe asked for: 'plain', 'resume' or 'snapshot'. */
    this.requested = null;
    /** Sent on this socket and not answered yet: its changes cannot be here before its `subscribed`. */
    this.awaiting = false;
    /** Where the server started it on this connection (the `subscribed` cursor). */
    this.liveCursor = null;
    /** A later subscribe after the server dropped it (a failed resume or snapshot). */
    this.retry = new Timer(true);
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // A refusal nobody awaits is still reported through onError, never as an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** Stops delivery to this subscription; the server drops it too. */
  unsubscribe() {
    this.#client.unsubscribe(this);
  }

  /** What to send to subscribe (WebSocket) or how to ask for the stream (SSE) on a new connection. */
  request() {
    const request = { type: 'subscribe', channel: this.channel, id: this.id };
    if (this.filter) request.filter = this.filter;
    if (this.columns) request.columns = this.columns;
    if (this.cursor) {
      request.resumeFrom = this.cursor;
      this.requested = 'resume';
    } else if (this.snapshot && !this.snapshotDone) {
      request.snapshot = true;
      this.requested = 'snapshot';
    } else {
      this.requested = 'plain';
    }
    return request;
  }

  get snapshotting() {
    return this.requested === 'snapshot' && !this.snapshotDone;
  }

  /** `subscribed`: live from its cursor on, or (with a snapshot) once `snapshot_end` comes. */
  subscribed(frame) {
    this.awaiting = false;
    this.liveCursor = frame.cursor ?? null;
    // A plain subscription starts exactly here; on a resume the missed changes follow and move it.
    if (this.requested === 'plain' && frame.cursor) this.cursor = frame.cursor;
    if (!this.snapshotting) this.live();
  }

  snapshotEnded(frame) {
    this.snapshotDone = true;
    this.cursor = frame.cursor ?? this.cursor;
    this.live();
  }

  live() {
    if (this.status === 'closed') return;
    this.status = 'live';
    this.resolveReady(this);
  }

  /** A change for this subscription; false when it was delivered before (a repeat across a reconnect). */
  change(frame) {
    if (frame.cursor) {
      if (!this.recent.add(frame.cursor)) return false;
      this.cursor = frame.cursor;
    }
    this.deliver(frame);
    return true;
  }

  /** The resume point was past the log's retention: the subscription goes on from where the server started it. */
  resync(frame) {
    this.cursor = this.liveCursor;
    this.requested = 'plain';
    this.deliver(frame);
  }

  refuse(error) {
    this.status = 'closed';
    this.awaiting = false;
    this.retry.clear();
    this.rejectReady(error);
  }

  deliver(frame) {
    this.#client.call(this.callback, frame);
  }
}

class FluxgateClient {
  #subs = new Map();
  #listeners = { status: new Set(), error: new Set(), related: new Set() };
  #relatedSeen;
  #status = 'closed';
  #closed = false;
  #started = false;
  #useSse;
  #backoff;
  #retry = new Timer(true);
  #refresh = new Timer();
  #heartbeat = new Timer();
  #stable = new Timer();
  #socket = null;
  /** Subscribes sent on this socket and not yet answered, oldest first: a refusal answers the oldest. */
  #awaiting = [];
  /** The subscription whose resume the server answered last: a `resync_required` right after is its. */
  #lastResumed = null;
  #lastHeard = 0;
  #tokenFailures = 0;
  /** Upgrades in a row that failed while plain HTTP reached the service. */
  #blockedUpgrades = 0;
  #token = null;
  #nextId = 1;
  #streams = new Map();

  constructor(options = {}) {
    if (!/^https?:\/\/[^/]/i.test(String(options.url ?? ''))) throw new TypeError('url must be the service\'s http(s) base URL');
    if (options.token === undefined) throw new TypeError('token is required (a string or a function)');
    this.options = {
      ...DEFAULTS,
      ...options,
      backoff: { ...DEFAULTS.backoff, ...(options.backoff || {}) },
    };
    if (!['auto', 'websocket', 'sse'].includes(this.options.transport)) {
      throw new TypeError("transport must be 'auto', 'websocket' or 'sse'");
    }
    this.url = String(options.url).replace(/\/+$/, '');
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this.#useSse = this.options.transport === 'sse' || (this.options.transport === 'auto' && !this.WebSocket);
    if (this.options.transport === 'websocket' && !this.WebSocket) {
      throw new TypeError('no WebSocket implementation: pass one as options.WebSocket');
    }
    this.#backoff = new Backoff(this.options.backoff);
    this.#relatedSeen = new RecentCursors(this.options.dedupeWindow);
    whenAborted(options.signal, () => this.close());
  }

  /** 'connecting' | 'open' | 'reconnecting' | 'closed' (also before the first subscription). */
  get status() {
    return this.#status;
  }

  /** The transport in use now: 'websocket' or 'sse'. */
  get transport() {
    return this.#useSse ? 'sse' : 'websocket';
  }

  /**
   * Subscribes to {@code channel}; the callback gets every frame for it: database_change, snapshot,
   * snapshot_end, resync_required and error. Connects on the first subscription.
   */
  subscribe(channel, options = {}, callback = () => {}) {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    if (this.#closed) throw new FluxgateError('the client is closed', { fatal: true });
    checkSubscribe(channel, options);
    let id = options.id;
    if (!id) {
      do id = 's' + this.#nextId++; while (this.#subs.has(id));
    }
    const sub = new Subscription(this, id, channel, options, callback);
    const previous = this.#subs.get(id);
    this.#subs.set(id, sub);
    // The server replaces a subscription of the same id: so does the client.
    if (previous) previous.refuse(new FluxgateError('replaced by a new subscription with the same id'));
    whenAborted(options.signal, () => sub.unsubscribe());
    if (!this.#started) {
      this.#started = true;
      this.#connect();
    } else if (this.#useSse) {
      this.#openStream(sub);
    } else {
      this.#sendSubscribe(sub);
    }
    return sub;
  }

  unsubscribe(sub) {
    if (this.#subs.get(sub.id) !== sub) return;
    this.#subs.delete(sub.id);
    sub.refuse(new FluxgateError('unsubscribed'));
    if (this.#useSse) {
      this.#closeStream(sub.id);
    } else if (this.#socketOpen()) {
      this.#socket.send(JSON.stringify({ type: 'unsubscribe', id: sub.id }));
    }
  }

  /** Calls {@code listener(status)} on every change of status; returns a function that stops it. */
  onStatus(listener) {
    return this.#listen('status', listener);
  }

  /** Errors: refused subscriptions, server error frames, and the one that stops the client (fatal). */
  onError(listener) {
    return this.#listen('error', listener);
  }

  /** Changes that reach this user only because they concern it (delivery rules), outside any subscription. */
  onRelated(listener) {
    return this.#listen('related', listener);
  }

  /** Ends every subscription and the connection. */
  close() {
    this.#stop(null);
  }

  // ---- shared

  #listen(kind, listener) {
    this.#listeners[kind].add(listener);
    return () => this.#listeners[kind].delete(listener);
  }

  #emit(kind, value) {
    for (const listener of [...this.#listeners[kind]]) this.call(listener, value);
  }

  /** Runs application code; what it throws is reported, never allowed to break delivery. */
  call(fn, value) {
    try {
      fn(value);
    } catch (failure) {
      this.#reportHandlerFailure(failure);
    }
  }

  #reportHandlerFailure(failure) {
    if (this.#listeners.error.size === 0) console.error('fluxgate: a handler threw', failure);
    for (const listener of [...this.#listeners.error]) {
      try {
        listener(new FluxgateError('a handler threw: ' + (failure?.message ?? failure), { detail: failure }));
      } catch (ignored) {
        // An error listener that throws has nobody left to tell.
      }
    }
  }

  #setStatus(status) {
    if (this.#status === status) return;
    this.#status = status;
    this.#emit('status', status);
  }

  #stop(error) {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of [this.#retry, this.#refresh, this.#heartbeat, this.#stable]) timer.clear();
    this.#dropSocket(1000, 'client closed');
    for (const id of [...this.#streams.keys()]) this.#closeStream(id);
    for (const sub of this.#subs.values()) sub.refuse(error ?? new FluxgateError('the client was closed'));
    this.#subs.clear();
    this.#setStatus('closed');
    if (error) this.#emit('error', error);
  }

  async #currentToken() {
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    if (typeof token !== 'string' || token === '') throw new FluxgateError('the token function gave no token', { fatal: true });
    this.#tokenFailures = 0;
    return token;
  }

  /**
   * The token function threw. Where it signs in over the network that is part of an outage, so it
   * is retried like a connection; it is reported once it has failed five times in a row. A token
   * function that answers no token at all stops the client.
   */
  #tokenFailed(failure, retry) {
    const error = failure instanceof FluxgateError ? failure : new FluxgateError('the token function failed: ' + (failure?.message ?? failure));
    if (error.fatal) {
      this.#stop(error);
      return;
    }
    if (++this.#tokenFailures % 5 === 0) this.#emit('error', error);
    retry();
  }

  #scheduleRetry(afterMs) {
    if (this.#closed) return;
    this.#setStatus('reconnecting');
    this.#retry.set(afterMs ?? this.#backoff.next(), () => this.#connect());
  }

  /**
   * When to ask for the next token: a margin before expiry (a third of what is left, for short
   * ones), and never sooner than a second from now.
   */
  #scheduleRefresh(timer, expiresAtMs, refresh) {
    if (!this.options.refreshToken || !Number.isFinite(expiresAtMs)) return;
    const left = expiresAtMs - Date.now();
    if (left <= 0) return;
    const margin = Math.min(this.options.refreshMarginMs, left / 3);
    timer.set(Math.max(1000, left - margin), refresh);
  }

  /**
   * What an HTTP refusal means for the next attempt: 'stop' (401, 403: the client stops with the
   * error), a wait in ms (429, 503: as Retry-After says), or null (anything else).
   */
  #refusal(response) {
    if (response.status === 401 || response.status === 403) {
      const what = response.status === 401 ? 'the token was refused' : 'access denied';
      this.#stop(new FluxgateError(what, { status: response.status, fatal: true }));
      return 'stop';
    }
    if (response.status === 429 || response.status === 503) {
      const seconds = Number(response.headers.get('Retry-After'));
      const wait = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : this.#backoff.next();
      return Math.min(wait, 5 * 60000) * (1 + Math.random() * 0.2);
    }
    return null;
  }

  #emitRelated(frame) {
    if (frame.cursor && !this.#relatedSeen.add(frame.cursor)) return;
    this.#emit('related', frame);
  }

  /** A frame's JSON, or null (reported) when it is not a JSON object or is past the size bound. */
  #parse(text) {
    if (typeof text !== 'string' || text.length > MAX_EVENT_CHARS) {
      this.#emit('error', new FluxgateError('an unreadable frame'));
      return null;
    }
    try {
      const frame = JSON.parse(text);
      if (frame !== null && typeof frame === 'object' && !Array.isArray(frame)) return frame;
    } catch (unreadable) {
      // reported below
    }
    this.#emit('error', new FluxgateError('an unreadable frame', { detail: text.slice(0, 200) }));
    return null;
  }

  // ---- WebSocket

  async #connect() {
    if (this.#closed) return;
    if (this.#useSse) {
      this.#connectStreams();
      return;
    }
    if (this.#status === 'closed') this.#setStatus('connecting');
    let token;
    try {
      token = await this.#currentToken();
    } catch (failure) {
      this.#tokenFailed(failure, () => this.#scheduleRetry());
      return;
    }
    if (this.#closed) return;
    this.#token = token;
    const wsUrl = this.url.replace(/^http/i, 'ws') + '/ws/changes?access_token=' + encodeURIComponent(token);
    let socket;
    try {
      socket = new this.WebSocket(wsUrl);
    } catch (failure) {
      this.#upgradeFailed(token);
      return;
    }
    this.#socket = socket;
    this.#awaiting = [];
    this.#lastResumed = null;
    let opened = false;
    socket.onopen = () => {
      if (this.#socket !== socket) return;
      opened = true;
      this.#blockedUpgrades = 0;
      this.#heard();
      this.#heartbeat.set(this.options.heartbeatMs, () => this.#checkHeartbeat());
      // Subscribes first: a status listener that subscribes sends its own, once.
      for (const sub of [...this.#subs.values()]) this.#sendSubscribe(sub);
      this.#stable.set(STABLE_MS, () => this.#backoff.reset());
      this.#scheduleRefresh(this.#refresh, tokenExpiry(token), () => this.#refreshSocketToken());
      this.#setStatus('open');
    };
    socket.onmessage = (message) => {
      if (this.#socket !== socket) return;
      this.#heard();
      const frame = this.#parse(message.data);
      if (frame) this.#route(frame, null);
    };
    const ended = (code, reason) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      for (const timer of [this.#heartbeat, this.#refresh, this.#stable]) timer.clear();
      if (this.#closed) return;
      if (opened) this.#socketClosed(code, reason);
      else this.#upgradeFailed(token);
    };
    socket.onclose = (event) => ended(event.code, event.reason);
    // Browsers follow a failed upgrade's error with a close; some implementations (Node 20's) do not.
    socket.onerror = () => {
      if (opened || this.#socket !== socket) return;
      ended(1006, '');
      this.#dropSocket(1000, '', socket);
    };
  }

  #socketOpen() {
    return this.#socket !== null && this.#socket.readyState === 1;
  }

  #sendSubscribe(sub) {
    if (!this.#socketOpen() || this.#subs.get(sub.id) !== sub) return;
    sub.retry.clear();
    const message = JSON.stringify(sub.request());
    if (message.length > MAX_CLIENT_FRAME / 2) {
      // Characters may take up to two bytes in the frame; past the server's bound it would close the socket.
      this.#refuse(sub, new FluxgateError('the subscription is too large to send (filter or columns)'));
      return;
    }
    if (sub.status !== 'closed') sub.status = 'pending';
    sub.awaiting = true;
    this.#awaiting.push(sub);
    this.#socket.send(message);
  }

  #refuse(sub, error) {
    if (this.#subs.get(sub.id) === sub) this.#subs.delete(sub.id);
    if (this.#useSse) this.#closeStream(sub.id);
    sub.deliver({ type: 'error', channel: sub.channel, error: error.code ?? 'Subscription refused', detail: error.message });
    sub.refuse(error);
    this.#emit('error', error);
  }

  #dropSocket(code, reason, socket = this.#socket) {
    if (this.#socket === socket) this.#socket = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(code, reason);
    } catch (ignored) {
      // Closing a socket that never opened may throw in some implementations.
    }
  }

  /** Anything from the server proves the connection alive. */
  #heard() {
    this.#lastHeard = Date.now();
  }

  /** Silence past the heartbeat sends a ping; past the heartbeat and its timeout, the socket is given up. */
  #checkHeartbeat() {
    if (!this.#socketOpen()) return;
    const { heartbeatMs, heartbeatTimeoutMs } = this.options;
    const silent = Date.now() - this.#lastHeard;
    if (silent < heartbeatMs) {
      this.#heartbeat.set(heartbeatMs - silent, () => this.#checkHeartbeat());
      return;
    }
    if (silent >= heartbeatMs + heartbeatTimeoutMs) {
      this.#dropSocket(4000, 'heartbeat timeout');
      this.#stable.clear();
      this.#pendingAll();
      this.#scheduleRetry();
      return;
    }
    this.#socket.send('{"type":"ping"}');
    this.#heartbeat.set(heartbeatMs + heartbeatTimeoutMs - silent, () => this.#checkHeartbeat());
  }

  async #refreshSocketToken() {
    const expiry = tokenExpiry(this.#token);
    let token;
    try {
      token = await this.#currentToken();
    } catch (failure) {
      if (failure?.fatal) {
        this.#stop(failure);
        return;
      }
      this.#emit('error', new FluxgateError('token refresh failed: ' + (failure?.message ?? failure)));
      // Try again while there is time; at expiry the server closes with 4001 and the reconnect asks again.
      this.#scheduleRefresh(this.#refresh, expiry, () => this.#refreshSocketToken());
      return;
    }
    if (!this.#socketOpen()) return;
    if (token === this.#token) {
      // The same token again (a cache that has not renewed yet): ask later.
      this.#scheduleRefresh(this.#refresh, expiry, () => this.#refreshSocketToken());
      return;
    }
    this.#token = token;
    this.#socket.send(JSON.stringify({ type: 'auth', token }));
  }

  #pendingAll() {
    for (const sub of this.#subs.values()) {
      sub.awaiting = false;
      sub.retry.clear();
      if (sub.status === 'live') sub.status = 'pending';
    }
  }

  #socketClosed(code, reason) {
    this.#pendingAll();
    if (code === 4003) {
      this.#stop(new FluxgateError('access revoked', { code, fatal: true, detail: reason }));
    } else if (code === 4001) {
      // The token expired before a fresh one reached the server: reconnect soon with a new one.
      this.#scheduleRetry(Math.min(this.#backoff.next(), 1000));
    } else {
      if (code === 1008 || code === 1009) this.#emit('error', new FluxgateError('the server closed the connection: ' + (reason || code), { code }));
      this.#scheduleRetry();
    }
  }

  /**
   * The upgrade did not happen, and a WebSocket does not say why: ask the same URL over plain HTTP.
   * 401 or 403 stop the client; 429 and 503 wait as long as Retry-After says; a service that answers
   * plain HTTP twice in a row while upgrades fail (a proxy in between) makes 'auto' use SSE.
   */
  async #upgradeFailed(token) {
    this.#pendingAll();
    let response;
    try {
      response = await this.fetch(this.url + '/ws/changes', { headers: { Authorization: 'Bearer ' + token } });
      await response.body?.cancel?.();
    } catch (unreachable) {
      this.#blockedUpgrades = 0;
      this.#scheduleRetry();
      return;
    }
    if (this.#closed) return;
    const refusal = this.#refusal(response);
    if (refusal === 'stop') return;
    if (refusal !== null) {
      this.#scheduleRetry(refusal);
      return;
    }
    if (response.status === 400 && this.options.transport === 'auto' && ++this.#blockedUpgrades >= 2) {
      this.#useSse = true;
      this.#emit('error', new FluxgateError('WebSocket upgrades do not get through; using Server-Sent Events', { status: 400 }));
      this.#connect();
      return;
    }
    this.#scheduleRetry();
  }

  /** One frame from the server; {@code streamSub} is the subscription an SSE stream belongs to. */
  #route(frame, streamSub) {
    switch (frame.type) {
      case 'subscribed': {
        const sub = streamSub ?? this.#answered(frame.id);
        if (!sub) return;
        if (sub.requested === 'resume') this.#lastResumed = sub;
        sub.subscribed(frame);
        return;
      }
      case 'snapshot_end': {
        const sub = streamSub ?? this.#subs.get(frame.id);
        if (!sub || !sub.snapshotting) return;
        sub.snapshotEnded(frame);
        sub.deliver(frame);
        return;
      }
      case 'snapshot': {
        const sub = streamSub ?? this.#subs.get(frame.id);
        if (sub && sub.snapshotting) sub.deliver(frame);
        return;
      }
      case 'database_change':
        this.#change(frame, streamSub);
        return;
      case 'resync_required':
        this.#resync(frame, streamSub);
        return;
      case 'error':
        this.#serverError(frame, streamSub);
        return;
      case 'auth_ok':
        this.#scheduleRefresh(this.#refresh, Date.parse(frame.expiresAt), () => this.#refreshSocketToken());
        return;
      default:
        return; // pong, unsubscribed, and what later servers add
    }
  }

  /** The subscribe a `subscribed` answers, taken off those awaiting; null when it is no longer the current one. */
  #answered(id) {
    const index = this.#awaiting.findIndex((sub) => sub.id === id);
    if (index < 0) return null;
    const [sub] = this.#awaiting.splice(index, 1);
    return this.#subs.get(id) === sub && sub.status !== 'closed' ? sub : null;
  }

  #change(frame, streamSub) {
    if (streamSub) {
      // A stream carries its subscription's changes and, whole, those related to the user.
      if (frame.channel === streamSub.channel) streamSub.change(frame);
      else this.#emitRelated(frame);
      return;
    }
    if (!Array.isArray(frame.subscriptions)) {
      this.#emitRelated(frame);
      return;
    }
    for (const id of frame.subscriptions) {
      const sub = this.#subs.get(id);
      // Before its `subscribed`, a frame naming this id was meant for the one it replaced.
      if (sub && !sub.awaiting && sub.status !== 'closed') sub.change(frame);
    }
  }

  /**
   * After a resume's `subscribed` the server says at once when the cursor was past retention: that
   * subscription's. Otherwise (a live-only channel that dropped changes) every one on the channel.
   */
  #resync(frame, streamSub) {
    let subs;
    if (streamSub) subs = [streamSub];
    else if (this.#lastResumed?.channel === frame.channel && this.#subs.get(this.#lastResumed.id) === this.#lastResumed) subs = [this.#lastResumed];
    else subs = this.#ofChannel(frame.channel);
    this.#lastResumed = null;
    for (const sub of subs) sub.resync(frame);
  }

  #serverError(frame, streamSub) {
    const error = new FluxgateError(frame.error + (frame.detail ? ': ' + frame.detail : ''), { code: frame.error, detail: frame.detail });
    const late = LATE_FAILURES[frame.error];
    if (late) {
      // A subscription the server had accepted is gone: a refused snapshot is final, the rest retried.
      const subs = (streamSub ? [streamSub] : this.#ofChannel(frame.channel)).filter((sub) => sub.requested === late);
      for (const sub of subs) {
        if (frame.error === 'Snapshot refused') {
          this.#refuse(sub, error);
          continue;
        }
        sub.deliver(frame);
        this.#subscribeAgainLater(sub);
      }
      if (frame.error !== 'Snapshot refused' || subs.length === 0) this.#emit('error', error);
      return;
    }
    // The server answers subscribes in order: an error for the channel of the oldest one waiting is its refusal.
    const waiting = streamSub ? null : this.#awaiting[0];
    if (waiting && frame.channel === waiting.channel) {
      this.#awaiting.shift();
      if (this.#subs.get(waiting.id) === waiting) this.#refuse(waiting, error);
      else this.#emit('error', error);
      return;
    }
    for (const sub of streamSub ? [streamSub] : this.#ofChannel(frame.channel)) sub.deliver(frame);
    this.#emit('error', error);
  }

  #subscribeAgainLater(sub) {
    if (this.#useSse) {
      const stream = this.#streams.get(sub.id);
      if (stream) this.#retryStream(sub, stream, null);
      return;
    }
    sub.awaiting = false;
    if (sub.status === 'live') sub.status = 'pending';
    sub.retry.set(this.#backoff.next(), () => this.#sendSubscribe(sub));
  }

  #ofChannel(channel) {
    return [...this.#subs.values()].filter((sub) => sub.channel === channel);
  }

  // ---- Server-Sent Events: one stream (one server session) per subscription, read with fetch
  // (EventSource sends no headers)

  #connectStreams() {
    for (const sub of this.#subs.values()) if (!this.#streams.has(sub.id)) this.#openStream(sub);
  }

  #streamStatus() {
    if (this.#closed) return;
    const streams = [...this.#streams.values()];
    if (streams.length === 0) return;
    if (streams.every((stream) => stream.open)) this.#setStatus('open');
    else if (streams.some((stream) => stream.retried)) this.#setStatus('reconnecting');
    else if (this.#status === 'closed') this.#setStatus('connecting');
  }

  #closeStream(id) {
    const stream = this.#streams.get(id);
    if (!stream) return;
    this.#streams.delete(id);
    for (const timer of [stream.silence, stream.retry, stream.refresh, stream.stable]) timer.clear();
    stream.controller.abort();
    this.#streamStatus();
  }

  #openStream(sub, retried = false, token = null) {
    // A retry keeps counting its backoff; a new or refreshed stream starts it over.
    const backoff = (retried && this.#streams.get(sub.id)?.backoff) || new Backoff(this.options.backoff);
    this.#closeStream(sub.id);
    const stream = {
      controller: new AbortController(), open: false, retried, backoff,
      silence: new Timer(), retry: new Timer(true), refresh: new Timer(), stable: new Timer(), token,
    };
    this.#streams.set(sub.id, stream);
    this.#streamStatus();
    this.#runStream(sub, stream);
  }

  async #runStream(sub, stream) {
    const live = () => this.#streams.get(sub.id) === stream && !this.#closed;
    let token = stream.token;
    try {
      token ??= await this.#currentToken();
    } catch (failure) {
      if (live()) this.#tokenFailed(failure, () => this.#retryStream(sub, stream, null));
      return;
    }
    if (!live()) return;
    const request = sub.request();
    const query = new URLSearchParams({ channel: sub.channel });
    if (request.filter) query.set('filter', JSON.stringify(request.filter));
    if (request.columns) query.set('columns', request.columns.join(','));
    if (request.snapshot) query.set('snapshot', 'true');
    const headers = { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' };
    if (request.resumeFrom) headers['Last-Event-ID'] = request.resumeFrom;
    let ending = null;
    try {
      const response = await this.fetch(this.url + '/api/changes/stream?' + query, { headers, signal: stream.controller.signal });
      if (!live()) return;
      if (!response.ok) {
        await this.#streamRefused(sub, stream, response, live);
        return;
      }
      stream.open = true;
      stream.retried = false;
      this.#streamStatus();
      stream.stable.set(STABLE_MS, () => stream.backoff.reset());
      this.#scheduleStreamRefresh(sub, stream, token, live);
      ending = await this.#readStream(response, stream, (event) => {
        if (live()) this.#onStreamEvent(sub, event);
      });
    } catch (failure) {
      if (!live()) return;
    }
    if (!live()) return;
    this.#streamEnded(sub, stream, ending);
  }

  /** A stream keeps the token it opened with: before expiry it is reopened with a fresh one, resuming where it is. */
  #scheduleStreamRefresh(sub, stream, token, live) {
    const expiry = tokenExpiry(token);
    this.#scheduleRefresh(stream.refresh, expiry, async () => {
      let next;
      try {
        next = await this.#currentToken();
      } catch (failure) {
        if (failure?.fatal) this.#stop(failure);
        else if (live()) this.#scheduleStreamRefresh(sub, stream, token, live);
        return;
      }
      if (!live()) return;
      // The same token again (a cache that has not renewed yet): a new stream would gain nothing.
      if (next === token) this.#scheduleStreamRefresh(sub, stream, token, live);
      else this.#openStream(sub, false, next);
    });
  }

  async #streamRefused(sub, stream, response, live) {
    const refusal = this.#refusal(response);
    if (refusal === 'stop') return;
    if (refusal !== null || response.status >= 500) {
      this.#retryStream(sub, stream, refusal);
      return;
    }
    let problem = null;
    try {
      problem = await response.json();
    } catch (notJson) {
      // The status says enough.
    }
    if (!live()) return;
    // The request itself is wrong (an invalid filter, an unknown channel): retrying cannot help.
    const detail = problem?.detail ?? problem?.title ?? 'HTTP ' + response.status;
    this.#refuse(sub, new FluxgateError('subscription refused: ' + detail, { status: response.status, code: 'Subscription refused', detail: problem }));
  }

  /** Reads events until the stream ends; answers the `close` event's content when the server sent one. */
  async #readStream(response, stream, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let close = null;
    const parse = eventStreamParser((event) => {
      if (event.type === 'close') close = this.#parse(event.data) ?? { code: 1000 };
      else onEvent(event);
    });
    const silent = () => stream.controller.abort();
    stream.silence.set(SSE_SILENCE_MS, silent);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stream.silence.set(SSE_SILENCE_MS, silent);
      if (!parse(decoder.decode(value, { stream: true }))) throw new FluxgateError('an event stream past the size bound');
    }
    return close;
  }

  #onStreamEvent(sub, event) {
    const frame = this.#parse(event.data);
    if (!frame) return;
    if (!frame.type) frame.type = event.type;
    if (frame.type === 'database_change' && !frame.cursor && event.id) frame.cursor = event.id;
    this.#route(frame, sub);
  }

  #streamEnded(sub, stream, close) {
    if (sub.status === 'live') sub.status = 'pending';
    if (close?.code === 4003) {
      this.#stop(new FluxgateError('access revoked', { code: 4003, fatal: true, detail: close.reason }));
    } else if (close?.code === 4001) {
      this.#retryStream(sub, stream, Math.min(stream.backoff.next(), 1000));
    } else {
      this.#retryStream(sub, stream, null);
    }
  }

  #retryStream(sub, stream, afterMs) {
    stream.open = false;
    stream.retried = true;
    stream.refresh.clear();
    stream.stable.clear();
    stream.controller.abort();
    this.#streamStatus();
    stream.retry.set(afterMs ?? stream.backoff.next(), () => {
      if (this.#streams.get(sub.id) === stream && !this.#closed) this.#openStream(sub, true);
    });
  }
}

/**
 * An event-stream parser (the WHATWG rules this service's streams need): feed it text, it calls
 * onEvent({type, data, id}) for each complete event. Answers false once one event passes the bound
 * (the caller then drops the stream). Each chunk is scanned once.
 */
export function eventStreamParser(onEvent, maxEventChars = MAX_EVENT_CHARS) {
  let line = '';
  let pendingCr = false;
  let data = [];
  let size = 0;
  let type = '';
  let id = null;
  const field = (text) => {
    if (text === '') {
      if (data.length) onEvent({ type: type || 'message', data: data.join('\n'), id });
      data = [];
      size = 0;
      type = '';
      id = null;
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const name = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') data.push(value);
    else if (name === 'event') type = value;
    else if (name === 'id') id = value;
  };
  return (chunk) => {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      if (c === 10 && pendingCr && i === start) {
        // The \n of a \r\n split across chunks (or right after the \r): not a second line end.
        pendingCr = false;
        start = i + 1;
        continue;
      }
      line += chunk.slice(start, i);
      size += line.length;
      if (size > maxEventChars) return false;
      field(line);
      line = '';
      pendingCr = c === 13;
      if (pendingCr && chunk.charCodeAt(i + 1) === 10) {
        pendingCr = false;
        i++;
      }
      start = i + 1;
    }
    if (start < chunk.length) {
      pendingCr = false;
      line += chunk.slice(start);
    }
    return size + line.length <= maxEventChars;
  };
}
