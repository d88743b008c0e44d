// The etcd-ts dashboard: plain browser JavaScript, no framework and no build step. It speaks only etcd's JSON API
// (base64 bytes, int64 as strings, zero values omitted), the WebSocket watch on /v3/watch, /health and /metrics, so
// it works against any member serving them. Every list is paged or capped: nothing here reads the whole keyspace.
'use strict';

(() => {
  const POLL_CLUSTER_MS = 1000;
  const POLL_METRICS_MS = 1000;
  const POLL_LEASES_MS = 2000;
  const CHART_POINTS = 120;
  const WATCH_EVENTS_SHOWN = 500;
  const LEASES_SHOWN = 100;
  const HISTORY_STEPS_PER_CLICK = 10;
  const VALUE_PREVIEW_CHARS = 80;

  const $ = (id) => document.getElementById(id);
  const utf8 = new TextEncoder();
  const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

  // ---- bytes, base64 and display --------------------------------------------------------------------------------

  function bytesToB64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }
  function b64ToBytes(b64) {
    const s = atob(b64 || '');
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  const textToB64 = (text) => bytesToB64(utf8.encode(text));
  /** Text when the bytes are printable UTF-8, else hex (values may be binary). */
  function display(bytes) {
    try {
      const text = strictUtf8.decode(bytes);
      if (!/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) return text;
    } catch (_) { /* not UTF-8 */ }
    return '0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  /** etcd's prefix end: the smallest key greater than every key with this prefix ("\0" = no end). */
  function prefixEnd(bytes) {
    const end = bytes.slice();
    for (let i = end.length - 1; i >= 0; i--) {
      if (end[i] < 0xff) {
        end[i]++;
        return end.subarray(0, i + 1);
      }
    }
    return new Uint8Array([0]);
  }
  /** key/range_end of a prefix; the empty prefix is the whole keyspace ("\0", "\0"), as etcdctl sends it. */
  function prefixRange(prefixText) {
    if (prefixText === '') return { key: 'AA==', range_end: 'AA==' };
    const p = utf8.encode(prefixText);
    return { key: bytesToB64(p), range_end: bytesToB64(prefixEnd(p)) };
  }
  const hexId = (decimal) => (decimal ? BigInt(decimal).toString(16) : '0');
  function formatBytes(n) {
    n = Number(n || 0);
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1024 / 1024).toFixed(1) + ' MiB';
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'title') e.title = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  // ---- the JSON API -------------------------------------------------------------------------------------------------

  // ---- authentication ----------------------------------------------------------------------------------------------
  //
  // With etcd's auth enabled every checked request needs a token. The page asks for a user name and password, sends
  // them once to /v3/auth/authenticate and keeps only the token it gets back (in sessionStorage, so a reload in the
  // same tab keeps the session; never the password). The token goes in the Authorization header of this member's
  // requests and in the WebSocket URL (a browser cannot set headers on a WebSocket). When the member refuses the token
  // (expired, auth changed, auth disabled and enabled again) it is dropped and the form shown again.

  const TOKEN_KEY = 'etcd-ts-token';
  const USER_KEY = 'etcd-ts-user';
  const session = { token: sessionStorage.getItem(TOKEN_KEY) || '', user: sessionStorage.getItem(USER_KEY) || '' };
  /** etcd's answers that mean "log in (again)": no token, an unknown or expired one, one older than the auth store */
  const LOGIN_NEEDED = ['etcdserver: user name is empty', 'etcdserver: invalid auth token', 'etcdserver: revision of auth store is old'];

  function setSession(token, user) {
    session.token = token;
    session.user = user;
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
      sessionStorage.setItem(USER_KEY, user);
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(USER_KEY);
    }
    showSession();
  }

  function showSession() {
    const loggedIn = session.token !== '';
    $('session').hidden = !loggedIn;
    $('session-user').textContent = loggedIn ? `user ${session.user}` : '';
  }

  function loginNeeded(reason) {
    if (session.token) setSession('', '');
    $('login').hidden = false;
    $('login-error').textContent = reason || '';
    if (document.activeElement !== $('login-password')) $('login-name').focus();
  }

  async function login(event) {
    event.preventDefault();
    const name = $('login-name').value;
    const password = $('login-password').value;
    $('login-password').value = ''; // the password lives only as long as this request
    try {
      const r = await api('/v3/auth/authenticate', { name, password }, '', false);
      setSession(r.token, name);
      $('login').hidden = true;
      $('login-error').textContent = '';
      loadPage(true);
      refreshLeases();
      if (watch.wanted) restartWatch();
    } catch (err) {
      $('login-error').textContent = err.message;
    }
  }

  function logout() {
    setSession('', '');
    stopWatch();
    loginNeeded('');
  }

  // ---- the JSON API -------------------------------------------------------------------------------------------------

  /**
   * POSTs an etcd JSON request. No Content-Type header is set on purpose: a text/plain POST is a "simple" request, so
   * reaching another member's origin needs no CORS preflight (etcd's gateway parses the body as JSON either way). The
   * token goes only to this member (an Authorization header would need a preflight elsewhere, and the calls made
   * there, status and health, need no token).
   */
  async function api(path, body, base = '', withToken = true) {
    const headers = withToken && base === '' && session.token ? { Authorization: session.token } : undefined;
    const res = await fetch(base + path, { method: 'POST', body: JSON.stringify(body || {}), headers });
    const text = await res.text();
    let json;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch (_) {
      throw new Error(`${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    }
    if (!res.ok || json.error !== undefined) {
      const message = json.message || json.error || `${path}: HTTP ${res.status}`;
      if (base === '' && withToken && LOGIN_NEEDED.includes(message)) loginNeeded(session.token ? 'session expired: log in again' : '');
      throw new Error(message);
    }
    return json;
  }

  /** Whether the member has auth enabled (etcd 3.5's AuthStatus; false where the member does not serve it). */
  async function authEnabled() {
    try {
      const r = await api('/v3/auth/status', {}, '', false);
      return r.enabled === true;
    } catch (_) {
      return false;
    }
  }

  /** Runs `task` now and then every `ms` after it finishes (never two at once); paused while the tab is hidden. */
  function every(ms, task) {
    const run = async () => {
      if (!document.hidden) {
        try {
          await task();
        } catch (err) {
          console.warn(err);
        }
      }
      setTimeout(run, ms);
    };
    run();
  }

  // ---- cluster ------------------------------------------------------------------------------------------------------

  async function memberState(member, self) {
    // this member through the page's own origin; the others through their advertised client URLs
    const bases = member.ID === self ? [''] : (member.clientURLs || []);
    for (const base of bases) {
      try {
        const status = await api('/v3/maintenance/status', {}, base);
        let health = 'unknown';
        try {
          const res = await fetch(base + '/health');
          const h = await res.json();
          health = h.health === 'true' ? 'healthy' : `unhealthy: ${h.reason || ''}`;
        } catch (_) { /* /health unreachable: leave it unknown */ }
        return { status, health };
      } catch (_) { /* try the next URL */ }
    }
    return { status: null, health: 'unreachable' };
  }

  async function refreshCluster() {
    let list;
    try {
      list = await api('/v3/cluster/member/list', {});
      $('conn').textContent = 'connected';
      $('conn').className = 'badge ok';
      $('cluster-error').textContent = '';
    } catch (err) {
      $('conn').textContent = 'disconnected';
      $('conn').className = 'badge bad';
      $('cluster-error').textContent = `member list: ${err.message}`;
      return;
    }
    const self = list.header && list.header.member_id;
    const members = list.members || [];
    const states = await Promise.all(members.map((m) => memberState(m, self)));
    const own = states[members.findIndex((m) => m.ID === self)];
    const leader = own && own.status ? own.status.leader : undefined;
    $('header-info').textContent = own && own.status
      ? `member ${hexId(self)} · cluster ${hexId(list.header.cluster_id)} · revision ${own.status.header.revision || 0} · version ${own.status.version}`
      : '';
    const rows = members.map((m, i) => {
      const st = states[i].status;
      const role = m.isLearner ? 'learner' : m.ID === leader ? 'leader' : 'follower';
      const health = states[i].health;
      const tr = el('tr', { class: role === 'leader' ? 'leader' : '', 'data-member': hexId(m.ID) },
        el('td', {}, m.name || '(unstarted)'),
        el('td', {}, hexId(m.ID)),
        el('td', {}, role),
        el('td', { title: (m.clientURLs || []).join(', ') }, (m.clientURLs || []).join(', ')),
        el('td', {}, st ? st.raftTerm || '0' : '—'),
        el('td', {}, st ? st.raftIndex || '0' : '—'),
        el('td', {}, st ? st.raftAppliedIndex || '0' : '—'),
        el('td', {}, st ? `${formatBytes(st.dbSize)} (${formatBytes(st.dbSizeInUse)} in use)` : '—'),
        el('td', { class: health === 'healthy' ? 'health-ok' : 'health-bad' }, health));
      return tr;
    });
    $('members').tBodies[0].replaceChildren(...rows);
  }

  // ---- keys ---------------------------------------------------------------------------------------------------------

  const browse = { range: null, lastKey: null, shown: 0, total: 0 };

  async function loadPage(first) {
    const limit = Math.max(1, Math.min(1000, Number($('page-size').value) || 50));
    if (first) {
      browse.range = prefixRange($('prefix').value);
      browse.lastKey = null;
      browse.shown = 0;
    }
    // the next page starts just after the last key shown: key + "\0"
    const key = browse.lastKey === null ? browse.range.key : bytesToB64(Uint8Array.from([...browse.lastKey, 0]));
    try {
      const r = await api('/v3/kv/range', { key, range_end: browse.range.range_end, limit: String(limit) });
      const kvs = r.kvs || [];
      if (first) browse.total = Number(r.count || 0);
      const from = browse.shown + (kvs.length > 0 ? 1 : 0);
      browse.shown += kvs.length;
      if (kvs.length > 0) browse.lastKey = b64ToBytes(kvs[kvs.length - 1].key);
      $('next-page').disabled = !r.more;
      $('key-count').textContent = `${browse.total} matching · showing ${from}–${browse.shown}`;
      $('keys').tBodies[0].replaceChildren(...kvs.map((kv) => {
        const value = display(b64ToBytes(kv.value));
        const tr = el('tr', {},
          el('td', {}, display(b64ToBytes(kv.key))),
          el('td', { title: value.slice(0, 1000) }, value.length > VALUE_PREVIEW_CHARS ? value.slice(0, VALUE_PREVIEW_CHARS) + '…' : value),
          el('td', {}, kv.mod_revision || '0'));
        tr.addEventListener('click', () => {
          for (const other of tr.parentNode.children) other.classList.remove('selected');
          tr.classList.add('selected');
          showKey(kv);
        });
        return tr;
      }));
      $('keys-error').textContent = '';
    } catch (err) {
      $('keys-error').textContent = `range: ${err.message}`;
    }
  }

  function versionBlock(kv) {
    return el('div', { class: 'version' },
      el('div', { class: 'muted' },
        `mod revision ${kv.mod_revision || 0} · create revision ${kv.create_revision || 0} · version ${kv.version || 0} · lease ${kv.lease ? `${kv.lease} (0x${hexId(kv.lease)})` : 'none'}`),
      el('pre', {}, display(b64ToBytes(kv.value))));
  }

  /** A key's value and metadata, and its older versions walked back one mod_revision at a time. */
  function showKey(kv) {
    const detail = $('key-detail');
    const history = el('div', {});
    const older = el('button', { type: 'button', class: 'secondary' }, 'Older versions');
    const note = el('p', { class: 'muted' });
    let oldest = kv;
    older.addEventListener('click', async () => {
      older.disabled = true;
      try {
        for (let i = 0; i < HISTORY_STEPS_PER_CLICK; i++) {
          const revision = Number(oldest.mod_revision) - 1;
          if (revision < Number(oldest.create_revision)) {
            note.textContent = 'first version of this key (since its creation)';
            return;
          }
          const r = await api('/v3/kv/range', { key: kv.key, revision: String(revision) });
          const prev = (r.kvs || [])[0];
          if (!prev) {
            note.textContent = 'no older version';
            return;
          }
          history.append(versionBlock(prev));
          oldest = prev;
        }
        older.disabled = false;
      } catch (err) {
        note.textContent = err.message; // e.g. "etcdserver: mvcc: required revision has been compacted"
      }
    });
    detail.replaceChildren(el('h3', {}, display(b64ToBytes(kv.key))), versionBlock(kv), history, older, note);
  }

  // ---- put and delete -----------------------------------------------------------------------------------------------

  function leaseId(text) {
    text = text.trim();
    if (text === '') return undefined;
    return BigInt(text.startsWith('0x') ? text : /^[0-9]+$/.test(text) ? text : '0x' + text).toString();
  }

  async function put(event) {
    event.preventDefault();
    try {
      const body = { key: textToB64($('put-key').value), value: textToB64($('put-value').value) };
      const lease = leaseId($('put-lease').value);
      if (lease !== undefined) body.lease = lease;
      const r = await api('/v3/kv/put', body);
      $('write-result').textContent = `put ${$('put-key').value} at revision ${r.header.revision}`;
    } catch (err) {
      $('write-result').textContent = `put failed: ${err.message}`;
    }
  }

  async function del(event) {
    event.preventDefault();
    try {
      const text = $('delete-key').value;
      const body = $('delete-prefix').checked ? prefixRange(text) : { key: textToB64(text) };
      const r = await api('/v3/kv/deleterange', body);
      $('write-result').textContent = `deleted ${r.deleted || 0} key(s) at revision ${r.header.revision}`;
    } catch (err) {
      $('write-result').textContent = `delete failed: ${err.message}`;
    }
  }

  // ---- watch over a WebSocket ---------------------------------------------------------------------------------------

  const watch = { socket: null, range: null, nextRevision: 0, wanted: false, retry: null };

  function watchState(text) {
    $('watch-state').textContent = text;
  }

  function openWatch() {
    const query = session.token ? `?token=${encodeURIComponent(session.token)}` : '';
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v3/watch${query}`;
    const socket = new WebSocket(url);
    watch.socket = socket;
    socket.onopen = () => {
      const create = { key: watch.range.key, range_end: watch.range.range_end };
      // after a reconnect, resume right after the last revision shown: no gap, no duplicate
      if (watch.nextRevision > 0) create.start_revision = String(watch.nextRevision);
      socket.send(JSON.stringify({ create_request: create }));
    };
    socket.onmessage = (message) => {
      let m;
      try {
        m = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      if (m.error) {
        watchState(`error: ${m.error.message || JSON.stringify(m.error)}`);
        return;
      }
      const r = m.result || {};
      if (r.created) watchState(`watching (watch ${r.watch_id || 0})`);
      if (r.canceled) {
        watchState(`canceled: ${r.cancel_reason || ''}`);
        if (LOGIN_NEEDED.some((m) => (r.cancel_reason || '').includes(m))) loginNeeded(session.token ? 'session expired: log in again' : '');
      }
      for (const ev of r.events || []) addEvent(ev);
    };
    socket.onclose = () => {
      if (watch.socket !== socket) return;
      watch.socket = null;
      if (!watch.wanted) return;
      watchState('disconnected, retrying…');
      watch.retry = setTimeout(openWatch, 2000);
    };
  }

  function addEvent(ev) {
    const kv = ev.kv || {};
    const type = ev.type === 'DELETE' ? 'DELETE' : 'PUT';
    const revision = Number(kv.mod_revision || 0);
    if (revision >= watch.nextRevision) watch.nextRevision = revision + 1;
    const key = display(b64ToBytes(kv.key));
    const text = type === 'PUT' ? `${type} ${key} = ${display(b64ToBytes(kv.value))}` : `${type} ${key}`;
    const list = $('watch-events');
    list.prepend(el('li', { class: type, 'data-key': key, value: String(revision) }, `${text}  (revision ${revision})`));
    while (list.children.length > WATCH_EVENTS_SHOWN) list.lastChild.remove();
  }

  function startWatch(event) {
    event.preventDefault();
    stopWatch();
    watch.range = prefixRange($('watch-prefix').value);
    watch.nextRevision = 0;
    watch.wanted = true;
    $('watch-events').replaceChildren();
    $('watch-stop').disabled = false;
    watchState('connecting…');
    openWatch();
  }

  /** Reopens the watch socket with the current token, resuming after the last revision shown. */
  function restartWatch() {
    clearTimeout(watch.retry);
    const old = watch.socket;
    watch.socket = null;
    if (old) old.close();
    watchState('connecting…');
    openWatch();
  }

  function stopWatch() {
    watch.wanted = false;
    clearTimeout(watch.retry);
    if (watch.socket) watch.socket.close();
    watch.socket = null;
    $('watch-stop').disabled = true;
    watchState('not watching');
  }

  // ---- leases -------------------------------------------------------------------------------------------------------

  async function refreshLeases() {
    try {
      const r = await api('/v3/lease/leases', {});
      const leases = (r.leases || []).slice(0, LEASES_SHOWN);
      const ttls = await Promise.all(leases.map((l) => api('/v3/lease/timetolive', { ID: l.ID }).catch(() => null)));
      $('leases').tBodies[0].replaceChildren(...leases.map((l, i) => {
        const t = ttls[i];
        return el('tr', {},
          el('td', {}, `${l.ID} (0x${hexId(l.ID)})`),
          el('td', {}, t ? (Number(t.TTL) < 0 ? 'expired' : t.TTL || '0') : '—'),
          el('td', {}, t ? t.grantedTTL || '0' : '—'));
      }));
      const more = (r.leases || []).length - leases.length;
      $('leases-error').textContent = more > 0 ? `${more} more leases not shown` : '';
    } catch (err) {
      $('leases-error').textContent = `leases: ${err.message}`;
    }
  }

  // ---- throughput and latency chart ---------------------------------------------------------------------------------

  /** Sums of the samples of each metric family in Prometheus text (labels summed over). */
  function parseMetrics(text) {
    const sums = new Map();
    for (const line of text.split('\n')) {
      if (line === '' || line[0] === '#') continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const v = Number(m[3]);
      if (Number.isFinite(v)) sums.set(m[1], (sums.get(m[1]) || 0) + v);
    }
    return sums;
  }

  const chart = { last: null, points: [] };

  async function refreshMetrics() {
    const res = await fetch('/metrics');
    if (!res.ok) return;
    const now = performance.now();
    const m = parseMetrics(await res.text());
    const get = (name) => m.get(name) || 0;
    const sample = {
      at: now,
      writes: get('etcd_mvcc_put_total') + get('etcd_mvcc_delete_total') + get('etcd_mvcc_txn_total'),
      reads: get('etcd_mvcc_range_total'),
      fsyncSum: get('etcd_disk_wal_fsync_duration_seconds_sum'),
      fsyncCount: get('etcd_disk_wal_fsync_duration_seconds_count'),
    };
    const last = chart.last;
    chart.last = sample;
    if (last === null) return;
    const seconds = (sample.at - last.at) / 1000;
    if (seconds <= 0) return;
    const syncs = sample.fsyncCount - last.fsyncCount;
    chart.points.push({
      writes: Math.max(0, (sample.writes - last.writes) / seconds),
      reads: Math.max(0, (sample.reads - last.reads) / seconds),
      latencyMs: syncs > 0 ? ((sample.fsyncSum - last.fsyncSum) / syncs) * 1000 : null,
    });
    if (chart.points.length > CHART_POINTS) chart.points.shift();
    drawChart();
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const f of [1, 2, 5, 10]) if (v <= f * p) return f * p;
    return 10 * p;
  }

  function drawChart() {
    const canvas = $('chart');
    const dpr = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 900;
    const height = canvas.clientHeight || 200;
    if (canvas.width !== Math.round(width * dpr)) canvas.width = Math.round(width * dpr);
    if (canvas.height !== Math.round(height * dpr)) canvas.height = Math.round(height * dpr);
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, height);
    const pad = { left: 48, right: 48, top: 10, bottom: 20 };
    const w = width - pad.left - pad.right;
    const h = height - pad.top - pad.bottom;
    const pts = chart.points;
    const opsMax = niceMax(Math.max(0, ...pts.map((p) => Math.max(p.writes, p.reads))));
    const latMax = niceMax(Math.max(0, ...pts.map((p) => p.latencyMs || 0)));
    g.font = '11px system-ui, sans-serif';
    g.strokeStyle = '#dde1e8';
    g.fillStyle = '#6b7385';
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = pad.top + (h * i) / 4;
      g.beginPath();
      g.moveTo(pad.left, y);
      g.lineTo(pad.left + w, y);
      g.stroke();
      g.textAlign = 'right';
      g.fillText(((opsMax * (4 - i)) / 4).toFixed(opsMax < 4 ? 2 : opsMax < 40 ? 1 : 0), pad.left - 6, y + 4);
      g.textAlign = 'left';
      g.fillText(((latMax * (4 - i)) / 4).toFixed(latMax < 4 ? 2 : 0), pad.left + w + 6, y + 4);
    }
    g.textAlign = 'left';
    g.fillText(`last ${CHART_POINTS} s`, pad.left, height - 4);
    // the newest point at the right edge, one second per step
    const x = (i) => pad.left + w - ((pts.length - 1 - i) * w) / (CHART_POINTS - 1);
    const line = (color, value, max) => {
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      let pen = false;
      pts.forEach((p, i) => {
        const v = value(p);
        if (v === null) {
          pen = false;
          return;
        }
        const y = pad.top + h - (h * Math.min(v, max)) / max;
        if (pen) g.lineTo(x(i), y);
        else g.moveTo(x(i), y);
        pen = true;
      });
      g.stroke();
    };
    line('#2a6fdb', (p) => p.writes, opsMax);
    line('#1e8e3e', (p) => p.reads, opsMax);
    line('#d9822b', (p) => p.latencyMs, latMax);
  }

  // ---- start --------------------------------------------------------------------------------------------------------

  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    loadPage(true);
  });
  $('next-page').addEventListener('click', () => loadPage(false));
  $('put-form').addEventListener('submit', put);
  $('delete-form').addEventListener('submit', del);
  $('watch-form').addEventListener('submit', startWatch);
  $('watch-stop').addEventListener('click', stopWatch);
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  showSession();
  authEnabled().then((enabled) => {
    if (enabled && !session.token) loginNeeded('');
  });
  every(POLL_CLUSTER_MS, refreshCluster);
  every(POLL_METRICS_MS, refreshMetrics);
  every(POLL_LEASES_MS, refreshLeases);
  loadPage(true);
})();
