/*
 * Fluxgate console (GET /console): signs in, subscribes to change channels over WebSocket or
 * Server-Sent Events, shows events live with cursor and lag, disconnects and resumes from each
 * subscription's last cursor, and for admins shows live sessions and explains deliveries. The
 * protocol (resume, reconnects, token, both transports) is the JavaScript client's, imported below.
 * Data from the server or the user reaches the DOM only through textContent, value and attributes.
 */
import { createClient } from '/client/fluxgate.js';

  const MAX_ROWS = 500;
  const MAX_LOG = 200;
  const MAX_QUEUE = 5000;
  const MAX_SEEN = 10000;
  const SESSIONS_MS = 3000;
  const TOKEN_KEY = 'fluxgate.token';
  const USER_KEY = 'fluxgate.user';

  const state = {
    token: null,
    owner: null, // user id the subscriptions, counters and rows below belong to
    subs: [],
    conn: null,
    paused: false,
    queue: [],
    queueDropped: 0,
    seen: new Set(),
    counts: { received: 0, replayed: 0, duplicates: 0, snapshotRows: 0 },
    lastCursor: '',
    sessionsTimer: null,
    sessionsLoading: false
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function log(message) {
    const list = $('log');
    list.insertBefore(el('li', null, new Date().toLocaleTimeString() + '  ' + message), list.firstChild);
    while (list.childElementCount > MAX_LOG) list.lastElementChild.remove();
  }

  // ---- REST

  function problemText(body, response) {
    let text = (body && (body.detail || body.title)) || ('HTTP ' + response.status);
    if (body && Array.isArray(body.errors) && body.errors.length) {
      text += ': ' + body.errors.map((e) => e.field + ' ' + e.message).join('; ');
    }
    return text;
  }

  async function readJson(response) {
    const text = await response.text();
    try {
      return text ? JSON.parse(text) : null;
    } catch (notJson) {
      return null;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401 && state.token) {
      expireSession();
      throw new Error('Session expired, sign in again');
    }
    const answer = await readJson(response);
    if (!response.ok) throw new Error(problemText(answer, response));
    return answer;
  }

  // ---- Auth

  async function withButton(button, errorTarget, work) {
    button.disabled = true;
    errorTarget.textContent = '';
    try {
      await work();
    } catch (err) {
      errorTarget.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  }

  async function login(email, password) {
    const answer = await api('POST', '/api/auth/login', { email, password });
    sessionStorage.setItem(TOKEN_KEY, answer.token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(answer.user));
    showSignedIn(answer.token, answer.user);
  }

  function onSignIn(event) {
    event.preventDefault();
    withButton($('sign-in'), $('auth-error'), () => login($('email').value.trim(), $('password').value));
  }

  function onRegister() {
    const name = $('name').value.trim();
    const email = $('email').value.trim();
    const password = $('password').value;
    withButton($('register'), $('auth-error'), async () => {
      await api('POST', '/api/auth/register', { name, email, password });
      await login(email, password);
    });
  }

  function showRegister() {
    $('register-fields').hidden = false;
    $('register').hidden = false;
    $('show-register').hidden = true;
    $('name').focus();
  }

  function showSignedIn(token, user) {
    state.token = token;
    if (state.owner !== user.id) resetUserData(user.id);
    const roles = Array.isArray(user.roles) ? user.roles : [];
    $('who').textContent = user.name + ' <' + user.email + '> (' + roles.join(', ') + ')';
    $('password').value = '';
    $('auth-error').textContent = '';
    $('admin-error').textContent = '';
    $('auth').hidden = true;
    $('session-bar').hidden = false;
    $('main').hidden = false;
    $('admin').hidden = !roles.includes('ADMIN');
  }

  function signOut() {
    disconnect();
    stopSessionsAuto();
    $('sessions-auto').checked = false;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
    state.token = null;
    $('main').hidden = true;
    $('session-bar').hidden = true;
    $('auth').hidden = false;
    $('auth-error').textContent = '';
  }

  function expireSession() {
    signOut();
    $('auth-error').textContent = 'Session expired, sign in again';
  }

  function restoreSession() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    try {
      const user = JSON.parse(sessionStorage.getItem(USER_KEY));
      if (token && user) showSignedIn(token, user);
    } catch (corrupt) {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(USER_KEY);
    }
  }

  /** Another user signed in: their subscriptions, counters and events start empty. */
  function resetUserData(userId) {
    state.owner = userId;
    state.subs = [];
    state.queue = [];
    state.queueDropped = 0;
    state.seen.clear();
    state.counts = { received: 0, replayed: 0, duplicates: 0, snapshotRows: 0 };
    state.lastCursor = '';
    $('events').tBodies[0].replaceChildren();
    $('log').replaceChildren();
    renderSubscriptions();
    renderCounters();
  }

  // ---- Subscriptions

  function parseForm() {
    const filterText = $('filter').value.trim();
    let filter = null;
    if (filterText) {
      try {
        filter = JSON.parse(filterText);
      } catch (err) {
        throw new Error('Filter is not valid JSON: ' + err.message);
      }
      if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
        throw new Error('Filter must be a JSON object');
      }
    }
    const columns = $('columns').value.split(',').map((c) => c.trim()).filter(Boolean);
    return {
      id: $('sub-id').value.trim() || nextSubId(),
      channel: $('channel').value,
      filter,
      columns: columns.length ? columns : null,
      snapshot: $('snapshot').checked,
      cursor: null,
      status: 'pending',
      handle: null,
      view: null
    };
  }

  function nextSubId() {
    let n = 1;
    while (state.subs.some((s) => s.id === 's' + n)) n++;
    return 's' + n;
  }

  function onSubscribe(event) {
    event.preventDefault();
    $('form-error').textContent = '';
    let sub;
    try {
      sub = parseForm();
    } catch (err) {
      $('form-error').textContent = err.message;
      return;
    }
    // Same id: the server replaces that subscription, so the list does too.
    removeSub(sub.id);
    state.subs.push(sub);
    $('sub-id').value = '';
    renderSubscriptions();
    if (state.conn) openSubscription(state.conn, sub, false);
    renderStatus();
  }

  function removeSub(id) {
    const sub = findSub(id);
    if (sub && sub.handle) sub.handle.unsubscribe();
    state.subs = state.subs.filter((s) => s.id !== id);
  }

  function unsubscribe(id) {
    if (findSub(id) && state.conn) log('unsubscribed ' + id);
    removeSub(id);
    renderSubscriptions();
    renderStatus();
  }

  /** The list's items are built once per subscription and updated in place (no stale buttons). */
  function renderSubscriptions() {
    $('subscriptions').replaceChildren(...state.subs.map((sub) => {
      if (!sub.view) sub.view = subscriptionItem(sub);
      updateSubscription(sub);
      return sub.view.item;
    }));
  }

  function subscriptionItem(sub) {
    const item = el('li', 'subscription');
    item.setAttribute('data-id', sub.id);
    const title = el('div', 'title', sub.id + ' · ' + sub.channel + ' ');
    const badge = el('span', 'badge');
    title.append(badge);
    const options = 'filter ' + (sub.filter ? JSON.stringify(sub.filter) : '—') +
      '  columns ' + (sub.columns ? sub.columns.join(',') : 'all') + (sub.snapshot ? '  snapshot' : '');
    const cursor = el('div', 'detail cursor');
    const button = el('button', 'unsubscribe', 'Unsubscribe');
    button.type = 'button';
    button.setAttribute('data-id', sub.id);
    item.append(title, el('div', 'detail', options), cursor, button);
    return { item, badge, cursor };
  }

  function updateSubscription(sub) {
    sub.view.badge.textContent = sub.status;
    sub.view.badge.setAttribute('data-status', sub.status);
    sub.view.cursor.textContent = 'cursor ' + (sub.cursor || '—');
  }

  function findSub(id) {
    return state.subs.find((s) => s.id === id) || null;
  }

  // ---- Connection: the JavaScript client (/client/fluxgate.js) speaks the protocol

  function connect(resume) {
    disconnect();
    const transport = $('transport').value === 'sse' ? 'sse' : 'websocket';
    const client = createClient({ url: location.origin, token: () => state.token, transport });
    const conn = { client, resumed: resume, startedAt: Date.now(), rendered: new WeakSet() };
    state.conn = conn;
    client.onStatus((status) => {
      if (state.conn !== conn) return;
      if (status === 'reconnecting') log('connection lost; reconnecting and resuming each subscription');
      state.subs.forEach((s) => {
        if (s.handle) s.status = s.handle.status;
        updateSubscription(s);
      });
      renderStatus();
    });
    client.onError((error) => onClientError(conn, error));
    client.onRelated((frame) => {
      if (state.conn === conn) onChange(conn, frame, null);
    });
    log((resume ? 'resuming' : 'connecting') + ' over ' + (transport === 'sse' ? 'SSE' : 'WebSocket'));
    state.subs.forEach((sub) => openSubscription(conn, sub, resume));
    renderStatus();
  }

  function disconnect() {
    const conn = state.conn;
    if (!conn) return;
    state.conn = null;
    conn.client.close();
    log('disconnected');
    connectionEnded();
  }

  /** The connection is gone: subscriptions wait for the next connect or resume. */
  function connectionEnded() {
    state.subs.forEach((s) => {
      // The client may have moved a cursor without a frame (a start point): keep where it got to.
      s.cursor = (s.handle && s.handle.cursor) || s.cursor;
      s.status = 'pending';
      s.handle = null;
      updateSubscription(s);
    });
    renderStatus();
  }

  /** A resume continues from a subscription's last cursor, when it has one; never a snapshot. */
  function openSubscription(conn, sub, resume) {
    const options = { id: sub.id };
    if (sub.filter) options.filter = sub.filter;
    if (sub.columns) options.columns = sub.columns;
    if (resume && sub.cursor) options.resumeFrom = sub.cursor;
    else if (!resume && sub.snapshot) options.snapshot = true;
    sub.status = 'pending';
    let handle = null;
    handle = conn.client.subscribe(sub.channel, options, (frame) => {
      if (state.conn === conn && (handle === null || sub.handle === handle)) onFrame(conn, sub, frame);
    });
    sub.handle = handle;
    handle.ready.then(() => {
      if (sub.handle !== handle) return;
      sub.status = 'live';
      sub.cursor = handle.cursor || sub.cursor;
      log('subscribed ' + sub.id + ' (' + sub.channel + ')' + (handle.cursor ? ' cursor ' + handle.cursor : ''));
      updateSubscription(sub);
    }, () => {
      // Refused (its error frame is logged) or the connection closed: nothing more comes for it.
      if (sub.handle !== handle) return;
      sub.status = state.conn === conn ? 'refused' : 'pending';
      updateSubscription(sub);
    });
    updateSubscription(sub);
  }

  function onClientError(conn, error) {
    if (state.conn !== conn) return;
    log('error: ' + error.message);
    if (!error.fatal) return;
    state.conn = null;
    connectionEnded();
    if (error.status === 401) expireSession();
    else log('sign in again and press Resume to continue from the last cursor');
  }

  function renderStatus() {
    const conn = state.conn;
    let status = 'disconnected';
    if (conn) {
      const client = conn.client.status;
      status = client === 'open' ? 'connected' : client === 'closed' && state.subs.length === 0 ? 'idle' : 'connecting';
    }
    $('status').textContent = status;
    $('status').setAttribute('data-state', status);
  }

  // ---- Frames (the client hands each subscription its own; the same JSON on both transports)

  function onFrame(conn, sub, frame) {
    const channel = frame.channel ? ' ' + frame.channel : '';
    switch (frame.type) {
      case 'database_change': onChange(conn, frame, sub); break;
      case 'snapshot': onSnapshot(frame); break;
      case 'snapshot_end': log('snapshot_end ' + sub.id + ' (' + frame.channel + ') cursor ' + frame.cursor); break;
      case 'error':
        log('error' + channel + ': ' + frame.error + (frame.detail ? ' — ' + frame.detail : ''));
        break;
      case 'resync_required':
        log('resync_required' + channel + ': the cursor is past retention; ' + sub.id + ' goes on from now');
        break;
      default: break;
    }
    if (sub.handle) {
      sub.cursor = sub.handle.cursor || sub.cursor;
      sub.status = sub.handle.status;
    }
    updateSubscription(sub);
  }

  function onSnapshot(frame) {
    const rows = Array.isArray(frame.data) ? frame.data.length : 0;
    state.counts.snapshotRows += rows;
    log('snapshot ' + frame.channel + '/' + frame.table + ': ' + rows + ' rows');
    renderCounters();
  }

  /**
   * A change, drawn once: over WebSocket one frame may be handed to several subscriptions. Over SSE
   * each subscription is a stream of its own, and a repeat is a repeat within one stream.
   */
  function onChange(conn, frame, sub) {
    if (conn.rendered.has(frame)) return;
    conn.rendered.add(frame);
    const cursor = frame.cursor || '';
    const key = sub && conn.client.transport === 'sse' ? sub.id + ' ' + cursor : cursor;
    const duplicate = cursor !== '' && state.seen.has(key);
    const committed = Date.parse(frame.committedAt);
    state.counts.received++;
    // Replayed: committed before this connection was resumed (live events after it are not).
    if (conn.resumed && committed < conn.startedAt) state.counts.replayed++;
    if (duplicate) state.counts.duplicates++;
    if (cursor) {
      rememberCursor(key);
      state.lastCursor = cursor;
    }
    const item = { frame, duplicate, receivedAt: new Date(), lag: isNaN(committed) ? '' : Date.now() - committed };
    if (state.paused) enqueue(item);
    else renderRows([item]);
    renderCounters();
  }

  function rememberCursor(key) {
    state.seen.add(key);
    if (state.seen.size > MAX_SEEN) state.seen.delete(state.seen.values().next().value);
  }

  // ---- Events table, pause and counters

  function enqueue(item) {
    state.queue.push(item);
    if (state.queue.length > MAX_QUEUE) {
      state.queue.shift();
      state.queueDropped++;
    }
  }

  function togglePause() {
    state.paused = !state.paused;
    $('pause').textContent = state.paused ? 'Unpause' : 'Pause';
    if (state.paused) return;
    if (state.queueDropped) log(state.queueDropped + ' queued events dropped while paused (queue holds ' + MAX_QUEUE + ')');
    renderRows(state.queue.slice(-MAX_ROWS));
    state.queue = [];
    state.queueDropped = 0;
    renderCounters();
  }

  /** items oldest first; the newest ends up on top. */
  function renderRows(items) {
    const body = $('events').tBodies[0];
    const fragment = document.createDocumentFragment();
    for (let i = items.length - 1; i >= 0; i--) fragment.append(eventRow(items[i]));
    body.insertBefore(fragment, body.firstChild);
    while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
  }

  function eventRow(item) {
    const frame = item.frame;
    const row = el('tr', item.duplicate ? 'event duplicate' : 'event');
    row.setAttribute('data-cursor', frame.cursor || '');
    row.setAttribute('data-operation', frame.operation || '');
    row.setAttribute('data-table', frame.table || '');
    const via = Array.isArray(frame.subscriptions) ? ' / ' + frame.subscriptions.join(',') : '';
    const data = JSON.stringify(frame.data) || '';
    const cursorCell = el('td', 'cursor', frame.cursor || '');
    cursorCell.setAttribute('title', frame.cursor || '');
    const dataCell = el('td', 'data', data);
    dataCell.setAttribute('title', data);
    row.append(
      el('td', 'time', item.receivedAt.toLocaleTimeString()),
      el('td', 'op', frame.operation),
      el('td', 'tbl', frame.table),
      el('td', 'chan', (frame.channel || '') + via),
      cursorCell,
      el('td', 'lag', item.lag),
      dataCell);
    return row;
  }

  function renderCounters() {
    $('count-received').textContent = String(state.counts.received);
    $('count-replayed').textContent = String(state.counts.replayed);
    $('count-duplicates').textContent = String(state.counts.duplicates);
    $('count-snapshot-rows').textContent = String(state.counts.snapshotRows);
    $('paused-count').textContent = String(state.queue.length);
    $('last-cursor').textContent = state.lastCursor;
  }

  // ---- Admin: live sessions and explain

  async function refreshSessions() {
    if (state.sessionsLoading || !state.token) return;
    state.sessionsLoading = true;
    try {
      const sessions = await api('GET', '/api/admin/changes/sessions');
      $('sessions').tBodies[0].replaceChildren(...(sessions || []).map(sessionRow));
      $('admin-error').textContent = '';
    } catch (err) {
      $('admin-error').textContent = 'Sessions: ' + err.message;
    } finally {
      state.sessionsLoading = false;
    }
  }

  function sessionRow(session) {
    const row = el('tr', 'session');
    row.setAttribute('data-id', session.id);
    const subs = (session.subscriptions || []).map((s) => (s.id ? s.id + ':' : '') + s.channel +
      (s.filter ? ' ' + s.filter : '') + (s.columns ? ' [' + s.columns.join(',') + ']' : ''));
    [session.id, session.userId, session.transport, subs.join('; '), session.bufferedEvents,
      session.replaying ? 'yes' : 'no', session.lagMs, session.lastCursor, session.connectedAt]
      .forEach((value) => row.append(el('td', null, value === null || value === undefined ? '' : value)));
    return row;
  }

  function onSessionsAuto() {
    stopSessionsAuto();
    if (!$('sessions-auto').checked) return;
    refreshSessions();
    state.sessionsTimer = setInterval(refreshSessions, SESSIONS_MS);
  }

  function stopSessionsAuto() {
    clearInterval(state.sessionsTimer);
    state.sessionsTimer = null;
  }

  function onExplain(event) {
    event.preventDefault();
    const query = 'cursor=' + encodeURIComponent($('explain-cursor').value.trim()) +
      '&userId=' + encodeURIComponent($('explain-user').value.trim());
    withButton($('explain'), $('admin-error'), async () => {
      renderExplanation(await api('GET', '/api/admin/changes/explain?' + query));
    });
  }

  function renderExplanation(answer) {
    const change = answer.change;
    $('explain-change').textContent = change
      ? change.channel + ' · ' + change.table + ' · ' + change.operation + ' · committed ' + change.committedAt
      : 'not in the retained change log';
    $('explain-outcome').textContent = answer.outcome;
    $('explain-reason').textContent = answer.reason;
    $('explain-subscriptions').replaceChildren(...(answer.subscriptions || []).map((s) => {
      const condition = s.condition === null || s.condition === undefined ? ''
        : ' — condition ' + (typeof s.condition === 'string' ? s.condition : JSON.stringify(s.condition));
      return el('li', null, 'session ' + s.sessionId + ' · ' + (s.id || s.channel) + ' (' + s.channel + '): ' +
        s.outcome + ' — ' + s.reason + condition);
    }));
  }

  // ---- Wiring

  function bind() {
    $('auth-form').addEventListener('submit', onSignIn);
    $('register').addEventListener('click', onRegister);
    $('show-register').addEventListener('click', showRegister);
    $('sign-out').addEventListener('click', signOut);
    $('subscribe-form').addEventListener('submit', onSubscribe);
    $('subscriptions').addEventListener('click', (event) => {
      const button = event.target.closest('button.unsubscribe');
      if (button) unsubscribe(button.getAttribute('data-id'));
    });
    $('connect').addEventListener('click', () => connect(false));
    $('resume').addEventListener('click', () => connect(true));
    $('disconnect').addEventListener('click', disconnect);
    $('pause').addEventListener('click', togglePause);
    $('events').tBodies[0].addEventListener('click', (event) => {
      const cell = event.target.closest('td.cursor');
      if (cell) $('explain-cursor').value = cell.parentElement.getAttribute('data-cursor');
    });
    $('sessions-refresh').addEventListener('click', refreshSessions);
    $('sessions-auto').addEventListener('change', onSessionsAuto);
    $('explain-form').addEventListener('submit', onExplain);
  }

  bind();
  renderStatus();
  renderCounters();
  restoreSession();
