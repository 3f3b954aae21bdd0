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
/** Past this much text without an event boundary an event stream is taken for broken. */
const SSE_MAX_BUFFER = 16 * 1024 * 1024;

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

/** A timer that is replaced, never stacked, and can be cancelled; unref'd in Node so it never keeps a process alive. */
class Timer {
  set(ms, action) {
    this.clear();
    this.handle = setTimeout(action, Math.max(0, ms));
    if (typeof this.handle?.unref === 'function') this.handle.unref();
  }

  clear() {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
  }
}

/** The cursors a subscription delivered last, so a repeat across a reconnect is dropped. */
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

class Subscription {
  #client;

  constructor(client, id, channel, options, callback) {
    this.#client = client;
    this.id = id;
    this.channel = channel;
    this.filter = options.filter ?? null;
    this.columns = options.columns ?? null;
    this.snapshot = Boolean(options.snapshot) && !options.resumeFrom;
    /** The last cursor delivered to the callback: what to store to resume later. */
    this.cursor = options.resumeFrom ?? null;
    /** 'pending' until the server says it is live, 'live', or 'closed' for good. */
    this.status = 'pending';
    this.callback = callback;
    this.recent = new RecentCursors(client.options.dedupeWindow);
    this.snapshotDone = false;
    /** This connection's subscribe carries resumeFrom: `subscribed` then does not move the cursor. */
    this.resuming = false;
    /** Where the server started it on this connection (the `subscribed` cursor). */
    this.liveCursor = null;
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
    this.resuming = Boolean(this.cursor);
    const request = { type: 'subscribe', channel: this.channel, id: this.id };
    if (this.filter) request.filter = this.filter;
    if (this.columns) request.columns = this.columns;
    if (this.resuming) request.resumeFrom = this.cursor;
    else if (this.snapshot && !this.snapshotDone) request.snapshot = true;
    return request;
  }

  started(frame) {
    this.liveCursor = frame.cursor ?? null;
    if (frame.type === 'snapshot_end') {
      this.snapshotDone = true;
      this.cursor = frame.cursor ?? this.cursor;
    } else if (!this.resuming && !(this.snapshot && !this.snapshotDone) && frame.cursor) {
      // A plain subscription starts exactly here. On a resume the missed events follow and move it.
      this.cursor = frame.cursor;
    }
    if (frame.type === 'snapshot_end' || !(this.snapshot && !this.snapshotDone)) {
      this.status = 'live';
      this.resolveReady(this);
    }
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
    this.resuming = false;
    if (this.liveCursor) this.cursor = this.liveCursor;
    this.deliver(frame);
  }

  refuse(error) {
    this.status = 'closed';
    this.rejectReady(error);
  }

  deliver(frame) {
    this.#client.call(this.callback, frame);
  }
}

class FluxgateClient {
  #subs = new Map();
  #listeners = { status: new Set(), error: new Set(), related: new Set() };
  #status = 'closed';
  #closed = false;
  #started = false;
  #useSse;
  #backoff;
  #retry = new Timer();
  #refresh = new Timer();
  #heartbeat = new Timer();
  #socket = null;
  /** Subscribes sent on this socket and not yet answered, oldest first: an error frame answers the oldest. */
  #awaiting = [];
  #lastHeard = 0;
  #tokenFailures = 0;
  #token = null;
  #nextId = 1;
  #streams = new Map();

  constructor(options = {}) {
    if (!options.url) throw new TypeError('url is required');
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
  }

  /** 'connecting' | 'open' | 'reconnecting' | 'closed' */
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
    let id = options.id;
    if (!id) {
      do id = 's' + this.#nextId++; while (this.#subs.has(id));
    }
    const previous = this.#subs.get(id);
    if (previous) previous.status = 'closed'; // the server replaces a subscription of the same id
    const sub = new Subscription(this, id, channel, options, callback);
    this.#subs.set(id, sub);
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
    sub.status = 'closed';
    sub.rejectReady(new FluxgateError('unsubscribed'));
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
      if (fn !== this.#reportHandlerFailure) this.#reportHandlerFailure(failure);
    }
  }

  #reportHandlerFailure = (failure) => {
    if (this.#listeners.error.size === 0) console.error('fluxgate: a handler threw', failure);
    for (const listener of [...this.#listeners.error]) {
      try {
        listener(new FluxgateError('a handler threw: ' + (failure?.message ?? failure), { detail: failure }));
      } catch (ignored) {
        // An error listener that throws has nobody left to tell.
      }
    }
  };

  #setStatus(status) {
    if (this.#status === status) return;
    this.#status = status;
    this.#emit('status', status);
  }

  #stop(error) {
    if (this.#closed) return;
    this.#closed = true;
    this.#retry.clear();
    this.#refresh.clear();
    this.#heartbeat.clear();
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

  #scheduleRetry(afterMs) {
    if (this.#closed) return;
    this.#setStatus('reconnecting');
    this.#retry.set(afterMs ?? this.#backoff.next(), () => this.#connect());
  }

  /** When to ask for the next token: a margin before expiry (a third of what is left, for short ones). */
  #scheduleRefresh(timer, expiresAtMs, refresh) {
    if (!this.options.refreshToken || !Number.isFinite(expiresAtMs)) return;
    const left = expiresAtMs - Date.now();
    const margin = Math.min(this.options.refreshMarginMs, left / 3);
    timer.set(left - margin, refresh);
  }

  #httpUrl(path) {
    return this.url + path;
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
    const wsUrl = this.url.replace(/^http/, 'ws') + '/ws/changes?access_token=' + encodeURIComponent(token);
    let socket;
    try {
      socket = new this.WebSocket(wsUrl);
    } catch (failure) {
      this.#upgradeFailed(token);
      return;
    }
    this.#socket = socket;
    this.#awaiting = [];
    let opened = false;
    socket.onopen = () => {
      if (this.#socket !== socket) return;
      opened = true;
      this.#heard();
      this.#setStatus('open');
      for (const sub of this.#subs.values()) this.#sendSubscribe(sub);
      this.#scheduleRefresh(this.#refresh, tokenExpiry(token), () => this.#refreshSocketToken());
    };
    socket.onmessage = (message) => {
      if (this.#socket !== socket) return;
      this.#heard();
      this.#onFrame(message.data);
    };
    const ended = (code, reason) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#heartbeat.clear();
      this.#refresh.clear();
      if (this.#closed) return;
      if (opened) this.#socketClosed(code, reason);
      else this.#upgradeFailed(token);
    };
    socket.onclose = (event) => ended(event.code, event.reason);
    // Browsers follow a failed upgrade's error with a close; some implementations (Node 20's) do not.
    socket.onerror = () => {
      if (!opened) {
        ended(1006, '');
        this.#dropSocket(1000, '', socket);
      }
    };
  }

  #socketOpen() {
    return this.#socket !== null && this.#socket.readyState === 1;
  }

  #sendSubscribe(sub) {
    if (!this.#socketOpen()) return;
    sub.status = sub.status === 'closed' ? 'closed' : 'pending';
    this.#awaiting.push(sub);
    this.#socket.send(JSON.stringify(sub.request()));
  }

  #dropSocket(code, reason, socket = this.#socket) {
    if (this.#socket === socket) this.#socket = null;
    if (socket) {
      try {
        socket.close(code, reason);
      } catch (ignored) {
        // Closing a socket that never opened may throw in some implementations.
      }
    }
  }

  /** Anything from the server proves the connection alive; silence past the heartbeat asks, then gives up. */
  #heard() {
    this.#lastHeard = Date.now();
    this.#heartbeat.set(this.options.heartbeatMs, () => this.#checkHeartbeat());
  }

  #checkHeartbeat() {
    if (!this.#socketOpen()) return;
    const silent = Date.now() - this.#lastHeard;
    if (silent >= this.options.heartbeatMs + this.options.heartbeatTimeoutMs) {
      this.#dropSocket(4000, 'heartbeat timeout');
      this.#pendingAll();
      this.#scheduleRetry();
      return;
    }
    this.#socket.send('{"type":"ping"}');
    this.#heartbeat.set(this.options.heartbeatTimeoutMs, () => this.#checkHeartbeat());
  }

  async #refreshSocketToken() {
    let token;
    try {
      token = await this.#currentToken();
    } catch (failure) {
      this.#emit('error', failure instanceof FluxgateError ? failure : new FluxgateError('token refresh failed: ' + failure.message));
      return; // at expiry the server closes with 4001 and the reconnect asks again
    }
    if (token !== this.#token && this.#socketOpen()) {
      this.#token = token;
      this.#socket.send(JSON.stringify({ type: 'auth', token }));
    }
  }

  #pendingAll() {
    for (const sub of this.#subs.values()) if (sub.status === 'live') sub.status = 'pending';
  }

  #socketClosed(code, reason) {
    this.#pendingAll();
    if (code === 4003) {
      this.#stop(new FluxgateError('access revoked', { code, fatal: true, detail: reason }));
    } else if (code === 4001) {
      // The token expired before a fresh one reached the server: reconnect at once with a new one.
      this.#backoff.reset();
      this.#scheduleRetry(0);
    } else {
      if (code === 1008 || code === 1009) this.#emit('error', new FluxgateError('the server closed the connection: ' + (reason || code), { code }));
      this.#scheduleRetry();
    }
  }

  /**
   * The upgrade did not happen, and a WebSocket does not say why: ask the same URL over plain HTTP.
   * 401 or 403 stop the client; 429 and 503 wait as long as Retry-After says; an answer that shows
   * the service there but no upgrade through (a proxy in between) falls back to SSE in 'auto'.
   */
  async #upgradeFailed(token) {
    this.#pendingAll();
    let response;
    try {
      response = await this.fetch(this.#httpUrl('/ws/changes'), { headers: { Authorization: 'Bearer ' + token } });
      await response.body?.cancel?.();
    } catch (unreachable) {
      this.#scheduleRetry();
      return;
    }
    if (this.#closed) return;
    if (this.#refusedFor(response)) return;
    if (response.status === 400 && this.options.transport === 'auto') {
      this.#useSse = true;
      this.#emit('error', new FluxgateError('WebSocket upgrades do not get through; using Server-Sent Events', { status: 400 }));
      this.#connect();
      return;
    }
    this.#scheduleRetry();
  }

  /** True when {@code response} settles what happens next (stop, or wait as told). */
  #refusedFor(response) {
    if (response.status === 401 || response.status === 403) {
      const what = response.status === 401 ? 'the token was refused' : 'access denied';
      this.#stop(new FluxgateError(what, { status: response.status, fatal: true }));
      return true;
    }
    if (response.status === 429 || response.status === 503) {
      const seconds = Number(response.headers.get('Retry-After'));
      const wait = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : this.#backoff.next();
      this.#scheduleRetry(Math.min(wait, 5 * 60000) * (1 + Math.random() * 0.2));
      return true;
    }
    return false;
  }

  /**
   * The token function threw. Where it signs in over the network that is part of an outage, so it
   * is retried like a connection; it is reported once it has failed five times in a row.
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

  #onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (unreadable) {
      this.#emit('error', new FluxgateError('an unreadable frame', { detail: String(text).slice(0, 200) }));
      return;
    }
    this.#route(frame, null);
  }

  /** One frame from the server; {@code streamSub} is the subscription an SSE stream belongs to. */
  #route(frame, streamSub) {
    switch (frame.type) {
      case 'subscribed':
      case 'snapshot_end': {
        const sub = streamSub ?? this.#answered(frame.id);
        if (!sub) return;
        // Live again: the backoff starts over on the next drop.
        this.#backoff.reset();
        sub.started(frame);
        if (frame.type === 'snapshot_end') sub.deliver(frame);
        return;
      }
      case 'snapshot': {
        const sub = streamSub ?? this.#subs.get(frame.id);
        if (sub) sub.deliver(frame);
        return;
      }
      case 'database_change':
        this.#change(frame, streamSub);
        return;
      case 'resync_required':
        for (const sub of streamSub ? [streamSub] : this.#ofChannel(frame.channel)) sub.resync(frame);
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

  /** The subscription a `subscribed` names, taken off the subscribes awaiting an answer. */
  #answered(id) {
    const index = this.#awaiting.findIndex((sub) => sub.id === id);
    if (index >= 0) this.#awaiting.splice(index, 1);
    const sub = this.#subs.get(id);
    return sub && sub.status !== 'closed' ? sub : null;
  }

  #change(frame, streamSub) {
    if (streamSub) {
      // A stream carries its subscription's events and, whole, those related to the user.
      if (frame.channel === streamSub.channel) streamSub.change(frame);
      else this.#emit('related', frame);
      return;
    }
    if (!Array.isArray(frame.subscriptions)) {
      this.#emit('related', frame);
      return;
    }
    for (const id of frame.subscriptions) {
      const sub = this.#subs.get(id);
      if (sub) sub.change(frame);
    }
  }

  #serverError(frame, streamSub) {
    const error = new FluxgateError(frame.error + (frame.detail ? ': ' + frame.detail : ''), { code: frame.error, detail: frame.detail });
    // The server answers subscribes in order: an error for the channel of the oldest one waiting is its refusal.
    const waiting = streamSub ? null : this.#awaiting[0];
    if (waiting && frame.channel === waiting.channel) {
      this.#awaiting.shift();
      this.#subs.delete(waiting.id);
      waiting.deliver(frame);
      waiting.refuse(error);
    } else {
      for (const sub of streamSub ? [streamSub] : this.#ofChannel(frame.channel)) sub.deliver(frame);
    }
    this.#emit('error', error);
  }

  #ofChannel(channel) {
    return [...this.#subs.values()].filter((sub) => sub.channel === channel);
  }

  // ---- Server-Sent Events: one stream per subscription, read with fetch (EventSource sends no headers)

  #connectStreams() {
    for (const sub of this.#subs.values()) if (!this.#streams.has(sub.id)) this.#openStream(sub);
  }

  #streamStatus() {
    const streams = [...this.#streams.values()];
    if (streams.every((stream) => stream.open)) this.#setStatus('open');
    else if (streams.some((stream) => stream.retried)) this.#setStatus('reconnecting');
    else if (this.#status === 'closed') this.#setStatus('connecting');
  }

  #closeStream(id) {
    const stream = this.#streams.get(id);
    if (!stream) return;
    this.#streams.delete(id);
    stream.timer.clear();
    stream.refresh.clear();
    stream.controller.abort();
  }

  #openStream(sub, retried = false) {
    // A retry keeps counting its backoff; a new or refreshed stream starts it over.
    const backoff = (retried && this.#streams.get(sub.id)?.backoff) || new Backoff(this.options.backoff);
    this.#closeStream(sub.id);
    const stream = { controller: new AbortController(), open: false, retried, timer: new Timer(), refresh: new Timer(), backoff };
    this.#streams.set(sub.id, stream);
    this.#streamStatus();
    this.#runStream(sub, stream);
  }

  async #runStream(sub, stream) {
    const live = () => this.#streams.get(sub.id) === stream && !this.#closed;
    let token;
    try {
      token = await this.#currentToken();
    } catch (failure) {
      if (live()) this.#tokenFailed(failure, () => this.#retryStream(sub, stream, null));
      return;
    }
    const request = sub.request();
    const query = new URLSearchParams({ channel: sub.channel });
    if (request.filter) query.set('filter', JSON.stringify(request.filter));
    if (request.columns) query.set('columns', request.columns.join(','));
    if (request.snapshot) query.set('snapshot', 'true');
    const headers = { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' };
    if (request.resumeFrom) headers['Last-Event-ID'] = request.resumeFrom;
    let ending = null;
    try {
      const response = await this.fetch(this.#httpUrl('/api/changes/stream?' + query), { headers, signal: stream.controller.signal });
      if (!live()) return;
      if (!response.ok) {
        this.#streamRefused(sub, stream, response);
        return;
      }
      stream.open = true;
      this.#streamStatus();
      this.#scheduleRefresh(stream.refresh, tokenExpiry(token), () => {
        // A stream keeps the token it opened with: reopen it with a fresh one, resuming where it is.
        if (live()) this.#openStream(sub);
      });
      ending = await this.#readStream(response, stream, (event) => {
        if (live()) this.#onStreamEvent(sub, event);
      });
    } catch (failure) {
      if (!live()) return;
    }
    if (!live()) return;
    this.#streamEnded(sub, stream, ending);
  }

  async #streamRefused(sub, stream, response) {
    if (this.#refusedFor(response)) {
      if (!this.#closed) this.#retryStream(sub, stream, null);
      return;
    }
    let problem = null;
    try {
      problem = await response.json();
    } catch (notJson) {
      // The status says enough.
    }
    const detail = problem?.detail ?? problem?.title ?? 'HTTP ' + response.status;
    if (response.status >= 500) {
      this.#retryStream(sub, stream, null);
      return;
    }
    // The request itself is wrong (an invalid filter, an unknown channel): retrying cannot help.
    const error = new FluxgateError('subscription refused: ' + detail, { status: response.status, detail: problem });
    this.#subs.delete(sub.id);
    this.#closeStream(sub.id);
    sub.deliver({ type: 'error', channel: sub.channel, error: 'Subscription refused', detail });
    sub.refuse(error);
    this.#emit('error', error);
  }

  /** Reads events until the stream ends; answers the `close` event's code when the server sent one. */
  async #readStream(response, stream, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let close = null;
    const parse = eventStreamParser((event) => {
      if (event.type === 'close') {
        try {
          close = JSON.parse(event.data);
        } catch (unreadable) {
          close = { code: 1000 };
        }
      } else {
        onEvent(event);
      }
    });
    const silent = () => stream.controller.abort();
    stream.timer.set(SSE_SILENCE_MS, silent);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stream.timer.set(SSE_SILENCE_MS, silent);
      if (!parse(decoder.decode(value, { stream: true }))) throw new FluxgateError('an event stream without event boundaries');
    }
    return close;
  }

  #onStreamEvent(sub, event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (unreadable) {
      return;
    }
    if (!frame.type) frame.type = event.type;
    if (frame.type === 'database_change' && !frame.cursor && event.id) frame.cursor = event.id;
    if (frame.type === 'subscribed' || frame.type === 'snapshot_end') {
      const stream = this.#streams.get(sub.id);
      if (stream) stream.backoff.reset();
    }
    this.#route(frame, sub);
  }

  #streamEnded(sub, stream, close) {
    stream.open = false;
    if (sub.status === 'live') sub.status = 'pending';
    if (close?.code === 4003) {
      this.#stop(new FluxgateError('access revoked', { code: 4003, fatal: true, detail: close.reason }));
    } else if (close?.code === 4001) {
      this.#retryStream(sub, stream, 0);
    } else {
      this.#retryStream(sub, stream, null);
    }
  }

  #retryStream(sub, stream, afterMs) {
    stream.open = false;
    stream.retried = true;
    stream.refresh.clear();
    this.#streamStatus();
    stream.timer.set(afterMs ?? stream.backoff.next(), () => {
      if (this.#streams.get(sub.id) === stream && !this.#closed) this.#openStream(sub, true);
    });
  }
}

/**
 * An event-stream parser (the WHATWG rules this service's streams need): feed it text, it calls
 * onEvent({type, data, id}) for each complete event. Answers false once its buffer grows past the bound.
 */
export function eventStreamParser(onEvent) {
  let buffer = '';
  let data = [];
  let type = '';
  let id = null;
  const field = (line) => {
    if (line === '') {
      if (data.length) onEvent({ type: type || 'message', data: data.join('\n'), id });
      data = [];
      type = '';
      id = null;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') data.push(value);
    else if (name === 'event') type = value;
    else if (name === 'id') id = value;
  };
  return (text) => {
    buffer += text;
    // A trailing \r may be the first half of \r\n: keep it for the next chunk.
    const lines = buffer.split(/\r\n|\n|\r(?!$)/);
    buffer = lines.pop();
    lines.forEach(field);
    return buffer.length <= SSE_MAX_BUFFER;
  };
}
