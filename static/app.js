// natter's page. It talks to the native /api and the user socket only.
// User text is only ever put into the page with textContent, never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

const state = {
  access: localStorage.getItem('natter.access'),
  refresh: localStorage.getItem('natter.refresh'),
  me: null,
  conversations: new Map(), // id -> conversation (from /api/conversations)
  rooms: [], // public rooms (from /api/rooms)
  current: null, // the conversation shown
  live: new Set(), // conversations the user pressed Connect on
  messages: new Map(), // conversation id -> Map(message id -> message)
  oldest: new Map(), // conversation id -> oldest loaded id, or 0 when all are loaded
  pending: new Map(), // client_id -> {conversation, text, li, attachment}
  online: new Map(), // user id -> bool
  typing: new Map(), // conversation id -> Map(user name -> timer)
  lastId: 0, // the newest message id the socket delivered: where a reconnect resumes
  seen: new Set(), // message ids already counted
  everConnected: false,
  ws: null,
  wsOpen: false,
  retry: 0,
  retryTimer: null,
  lastTyping: 0,
  stick: true, // the view follows new messages while it is scrolled to the end
  blobs: new Map(), // file id -> object URL
  server: null, // what the server offers (GET /api/server): its AI agent, its limits
  drafts: new Map(), // reply id -> {conversation, text, state, li}: the agent's replies being written
};

// ---------- small helpers ----------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function timeOf(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function clientId() {
  return 'c' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

function setStatus(text, cls) {
  const s = $('conn-status');
  s.textContent = text;
  s.className = 'status ' + (cls || '');
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// ---------- the API ----------

// One refresh at a time, shared by every request that needs it. Refresh
// tokens are single-use, so two refreshes with the same one would look like
// theft; and another tab may already have refreshed (it stores the new pair).
let refreshing = null;

function adoptStoredTokens() {
  const stored = localStorage.getItem('natter.refresh');
  if (stored && stored !== state.refresh) {
    state.access = localStorage.getItem('natter.access');
    state.refresh = stored;
    return true;
  }
  return false;
}

function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      if (adoptStoredTokens()) return true;
      if (!state.refresh) return false;
      const res = await fetch('/api/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: state.refresh }),
      });
      if (res.ok) {
        saveTokens(await res.json());
        return true;
      }
      if (res.status === 409) {
        // Another tab refreshed with the same token a moment ago.
        await new Promise((r) => setTimeout(r, 300));
        return adoptStoredTokens();
      }
      return false;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function api(method, path, body, retried) {
  const headers = {};
  if (state.access) headers.authorization = 'Bearer ' + state.access;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['content-type'] = body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (res.status === 401 && !retried && state.refresh && path !== '/api/auth/refresh') {
    if (await refreshTokens()) return api(method, path, body, true);
    signedOut('Your session has ended. Please log in again.');
    throw new ApiError(401, 'session ended');
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const msg = (data && data.error && data.error.message) || res.statusText || 'request failed';
    throw new ApiError(res.status, msg);
  }
  return data;
}

// Has the access token expired (or will it within a few seconds)?
function tokenExpired() {
  try {
    const payload = state.access.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).exp * 1000 < Date.now() + 5000;
  } catch (e) {
    return true;
  }
}

function saveTokens(t) {
  state.access = t.access_token;
  state.refresh = t.refresh_token;
  localStorage.setItem('natter.access', t.access_token);
  localStorage.setItem('natter.refresh', t.refresh_token);
}

// ---------- signing in and out ----------

async function submitAuth(event, path, fields, errorId) {
  event.preventDefault();
  const form = event.target;
  const error = $(errorId);
  error.textContent = '';
  const body = {};
  for (const f of fields) {
    const v = form.elements[f].value.trim();
    if (v) body[f] = f === 'password' ? form.elements[f].value : v;
  }
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      error.textContent = (data && data.error && data.error.message) || 'Something went wrong (' + res.status + ')';
      return;
    }
    saveTokens(data);
    form.reset();
    await start();
  } catch (e) {
    error.textContent = 'Cannot reach the server: ' + e.message;
  } finally {
    button.disabled = false;
  }
}

function signedOut(message) {
  if (state.ws) {
    state.ws.onclose = null;
    state.ws.close();
  }
  clearTimeout(state.retryTimer);
  for (const url of state.blobs.values()) URL.revokeObjectURL(url);
  for (const k of ['natter.access', 'natter.refresh']) localStorage.removeItem(k);
  Object.assign(state, {
    access: null, refresh: null, me: null, current: null, ws: null, wsOpen: false, lastId: 0, retry: 0, everConnected: false,
  });
  for (const k of ['conversations', 'messages', 'oldest', 'pending', 'online', 'typing', 'blobs', 'seen', 'drafts']) state[k].clear();
  state.live.clear();
  $('app').hidden = true;
  $('auth').hidden = false;
  $('login-error').textContent = message || '';
  $('login-username').focus();
}

async function logout() {
  try {
    await api('POST', '/api/auth/logout');
  } catch (e) {
    // Logged out either way.
  }
  signedOut();
}

// ---------- the sidebar ----------

function otherMember(conv) {
  return conv.participants.find((p) => p.user_id !== state.me.user_id) || conv.participants[0];
}

function titleOf(conv) {
  if (conv.kind === 'room') return conv.name;
  const o = otherMember(conv);
  return o ? o.name || o.username : 'direct';
}

function previewOf(m) {
  if (!m) return 'No messages yet';
  if (m.deleted) return 'message deleted';
  const who = m.sender_id === state.me.user_id ? 'You: ' : '';
  return who + (m.message || (m.attachment ? 'attachment: ' + m.attachment.name : ''));
}

function renderSidebar() {
  const rooms = $('room-list');
  const directs = $('direct-list');
  rooms.replaceChildren();
  directs.replaceChildren();
  for (const conv of state.conversations.values()) {
    const isRoom = conv.kind === 'room';
    let marker;
    if (isRoom) {
      marker = el('span', { class: 'dot room', 'aria-hidden': 'true', text: '#' });
    } else {
      const o = otherMember(conv);
      const on = o && state.online.get(o.user_id);
      marker = el('span', { class: 'dot' + (on ? ' online' : ''), title: on ? 'online' : 'offline' });
      marker.setAttribute('aria-label', on ? 'online' : 'offline');
    }
    const unread = conv.unread_count > 0 ? String(conv.unread_count) : '';
    const item = el('button', {
      type: 'button',
      class: 'conv-item',
      'data-id': conv.conversation_id,
      'aria-current': conv.conversation_id === state.current ? 'true' : 'false',
      onclick: () => select(conv.conversation_id),
    },
    marker,
    el('span', { class: 'name', text: titleOf(conv) }),
    el('span', { class: 'badge', text: unread, 'aria-label': unread ? unread + ' unread' : null }),
    el('span', { class: 'last', text: previewOf(conv.last_message) }));
    (isRoom ? rooms : directs).append(el('li', {}, item));
  }
  if (!rooms.children.length) rooms.append(el('li', { class: 'empty-note', text: 'No rooms yet.' }));
  if (!directs.children.length) directs.append(el('li', { class: 'empty-note', text: 'No direct messages yet.' }));
  const pub = $('public-list');
  pub.replaceChildren();
  for (const r of state.rooms.filter((r) => !r.joined)) {
    pub.append(el('li', {}, el('button', {
      type: 'button',
      class: 'conv-item join',
      'data-room': r.conversation_id,
      onclick: () => joinRoom(r.conversation_id),
    },
    el('span', { class: 'dot room', 'aria-hidden': 'true', text: '#' }),
    el('span', { class: 'name', text: r.name }),
    el('span', { class: 'last', text: r.member_count + (r.member_count === 1 ? ' member' : ' members') + ' · join' }))));
  }
  if (!pub.children.length) pub.append(el('li', { class: 'empty-note', text: 'Nothing more to join.' }));
}

async function loadSidebar() {
  const [convs, rooms] = await Promise.all([api('GET', '/api/conversations'), api('GET', '/api/rooms')]);
  state.conversations.clear();
  for (const c of convs) {
    state.conversations.set(c.conversation_id, c);
    // Before the first socket, resume after the newest message the lists show.
    if (c.last_message && !state.everConnected) noteId(c.last_message.message_id);
    for (const p of c.participants) if (!state.online.has(p.user_id)) state.online.set(p.user_id, p.online);
  }
  state.rooms = rooms;
  renderSidebar();
}

async function joinRoom(id) {
  try {
    const conv = await api('POST', '/api/rooms/' + id + '/join');
    state.conversations.set(conv.conversation_id, conv);
    await loadSidebar();
    select(conv.conversation_id);
  } catch (e) {
    $('new-room-error').textContent = e.message;
  }
}

async function createRoom(event) {
  event.preventDefault();
  const input = $('new-room-name');
  const error = $('new-room-error');
  error.textContent = '';
  try {
    const conv = await api('POST', '/api/conversations', { name: input.value, kind: 'room' });
    input.value = '';
    state.conversations.set(conv.conversation_id, conv);
    await loadSidebar();
    select(conv.conversation_id);
  } catch (e) {
    error.textContent = e.message;
  }
}

let searchTimer = null;
function searchPeople() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const q = $('user-search').value.trim();
    const list = $('search-results');
    if (!q) {
      list.replaceChildren();
      return;
    }
    try {
      const users = await api('GET', '/api/users/?limit=20&q=' + encodeURIComponent(q));
      list.replaceChildren();
      for (const u of users.filter((u) => u.user_id !== state.me.user_id)) {
        state.online.set(u.user_id, u.online);
        list.append(el('li', {}, el('button', {
          type: 'button',
          class: 'conv-item',
          'data-user': u.username,
          onclick: () => startDirect(u.user_id),
        },
        el('span', { class: 'dot' + (u.online ? ' online' : '') }),
        el('span', { class: 'name', text: u.name ? u.name + ' (' + u.username + ')' : u.username }),
        el('span', { class: 'badge' }),
        el('span', { class: 'last', text: 'message' }))));
      }
      if (!list.children.length) list.append(el('li', { class: 'empty-note', text: 'Nobody found.' }));
    } catch (e) {
      list.replaceChildren(el('li', { class: 'error', text: e.message }));
    }
  }, 200);
}

async function startAiChat() {
  const error = $('ai-chat-error');
  error.textContent = '';
  try {
    const conv = await api('POST', '/api/conversations', { is_ai: true });
    state.conversations.set(conv.conversation_id, conv);
    renderSidebar();
    select(conv.conversation_id);
  } catch (e) {
    error.textContent = e.message;
  }
}

async function startDirect(userId) {
  try {
    const conv = await api('POST', '/api/conversations', { participant_id: userId });
    state.conversations.set(conv.conversation_id, conv);
    $('user-search').value = '';
    $('search-results').replaceChildren();
    renderSidebar();
    select(conv.conversation_id);
  } catch (e) {
    $('search-results').replaceChildren(el('li', { class: 'error', text: e.message }));
  }
}

// ---------- the conversation view ----------

function select(id) {
  state.current = id;
  const conv = state.conversations.get(id);
  if (!conv) return;
  $('empty-view').hidden = true;
  $('conversation').hidden = false;
  $('app').classList.add('viewing');
  $('conv-title').textContent = (conv.kind === 'room' ? '# ' : '') + titleOf(conv);
  renderPresence();
  renderSidebar();
  const live = state.live.has(id);
  $('connect').hidden = live;
  $('composer').hidden = !live;
  $('composer-error').textContent = '';
  renderTyping();
  const list = $('messages');
  list.replaceChildren();
  $('load-older').hidden = true;
  if (live) {
    renderAll(id);
    markRead(id);
    $('message-input').focus();
  } else {
    $('connect').focus();
  }
}

function renderPresence() {
  const conv = state.conversations.get(state.current);
  const p = $('conv-presence');
  if (!conv) return;
  if (conv.kind === 'ai') {
    p.textContent = 'AI assistant';
  } else if (conv.kind === 'direct') {
    const o = otherMember(conv);
    p.textContent = o && state.online.get(o.user_id) ? 'online' : 'offline';
  } else {
    p.textContent = conv.participants.length + (conv.participants.length === 1 ? ' member' : ' members');
  }
}

async function connect() {
  const id = state.current;
  if (!id) return;
  const button = $('connect');
  button.disabled = true;
  try {
    await loadPage(id);
    state.live.add(id);
    ensureSocket();
    if (state.current === id) select(id);
  } catch (e) {
    $('composer-error').textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

function store(id) {
  if (!state.messages.has(id)) state.messages.set(id, new Map());
  return state.messages.get(id);
}

async function loadPage(id, before) {
  const q = before ? '?limit=' + PAGE + '&before=' + before : '?limit=' + PAGE;
  const page = await api('GET', '/api/conversations/' + id + q);
  const msgs = store(id);
  for (const m of page) {
    msgs.set(m.message_id, m);
    state.seen.add(m.message_id);
  }
  const oldest = page.length ? page[0].message_id : 0;
  state.oldest.set(id, page.length < PAGE ? 0 : oldest);
  return page;
}

async function loadOlder() {
  const id = state.current;
  const before = state.oldest.get(id);
  if (!id || !before) return;
  const scroller = $('scroller');
  const height = scroller.scrollHeight;
  $('load-older').disabled = true;
  try {
    await loadPage(id, before);
    renderAll(id);
    scroller.scrollTop = scroller.scrollHeight - height;
  } catch (e) {
    $('composer-error').textContent = e.message;
  } finally {
    $('load-older').disabled = false;
  }
}

function sorted(id) {
  return [...store(id).values()].sort((a, b) => a.message_id - b.message_id);
}

function renderAll(id) {
  const list = $('messages');
  list.replaceChildren();
  for (const m of sorted(id)) list.append(messageItem(m));
  for (const d of state.drafts.values()) if (d.conversation === id) list.append(d.li);
  for (const p of state.pending.values()) if (p.conversation === id) list.append(p.li);
  $('load-older').hidden = !state.oldest.get(id);
  scrollToEnd();
}

function scrollToEnd() {
  const s = $('scroller');
  s.scrollTop = s.scrollHeight;
  state.stick = true;
}

function nearEnd() {
  const s = $('scroller');
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

function isDirect(id) {
  const c = state.conversations.get(id);
  return c && c.kind === 'direct';
}

function messageItem(m) {
  const mine = m.sender_id === state.me.user_id;
  const li = el('li', {
    class: 'message' + (mine ? ' mine' : '') + (m.deleted ? ' deleted' : ''),
    'data-id': m.message_id,
  });
  const meta = el('div', { class: 'meta' },
    el('span', { class: 'sender', text: mine ? 'You' : m.sender_username }),
    el('time', { datetime: m.timestamp, text: timeOf(m.timestamp) }));
  if (m.edited) meta.append(el('span', { text: 'edited' }));
  if (m.incomplete) meta.append(el('span', { class: 'state', text: 'incomplete' }));
  if (mine && !m.deleted && isDirect(m.conversation_id)) {
    meta.append(el('span', { class: 'state seen-mark', text: m.seen ? '✓✓ seen' : '✓ sent' }));
  }
  li.append(meta);
  li.append(el('div', { class: 'text', text: m.deleted ? 'message deleted' : m.message }));
  if (m.attachment && !m.deleted) li.append(attachmentView(m.attachment));
  if (mine && !m.deleted) {
    li.append(el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary edit', onclick: () => editMessage(li, m) }, 'Edit',
        el('span', { class: 'visually-hidden', text: ' message' })),
      el('button', { type: 'button', class: 'secondary delete', onclick: (e) => deleteMessage(e.currentTarget, m) }, 'Delete',
        el('span', { class: 'visually-hidden', text: ' message' }))));
  }
  return li;
}

async function fileUrl(file) {
  if (state.blobs.has(file.file_id)) return state.blobs.get(file.file_id);
  const res = await fetch('/api/files/' + file.file_id, { headers: { authorization: 'Bearer ' + state.access } });
  if (!res.ok) throw new Error('cannot load ' + file.name);
  // Only images keep their type; anything else (HTML, say) is a plain
  // download and never renders as a page on natter's origin.
  const bytes = await res.arrayBuffer();
  const type = IMAGE_TYPES.includes(file.content_type) ? file.content_type : 'application/octet-stream';
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  state.blobs.set(file.file_id, url);
  return url;
}

function attachmentView(file) {
  const box = el('div', { class: 'attachment' });
  const link = el('a', { href: '#', download: file.name, text: file.name + ' (' + Math.ceil(file.size / 1024) + ' KB)' });
  link.addEventListener('click', async (e) => {
    if (link.dataset.ready) return;
    e.preventDefault();
    try {
      link.href = await fileUrl(file);
      link.dataset.ready = '1';
      link.click();
    } catch (err) {
      link.textContent = err.message;
    }
  });
  box.append(el('span', { class: 'file-tag', text: 'File: ' }), link);
  if (IMAGE_TYPES.includes(file.content_type)) {
    const img = el('img', { class: 'preview', alt: file.name });
    // The image is taller than its placeholder: keep the newest message in view.
    img.addEventListener('load', () => { if (state.stick) scrollToEnd(); });
    fileUrl(file).then((url) => { img.src = url; }).catch(() => img.remove());
    box.append(img);
  }
  return box;
}

function editMessage(li, m) {
  if (li.querySelector('.edit-input')) return;
  const id = 'edit-' + m.message_id;
  const input = el('input', { id, class: 'edit-input', value: m.message });
  const label = el('label', { for: id, class: 'visually-hidden', text: 'Edit message' });
  const form = el('form', {}, label, input);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const updated = await api('PATCH', '/api/messages/' + m.message_id, { message: input.value });
      applyMessage(updated);
    } catch (err) {
      $('composer-error').textContent = err.message;
    }
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') li.replaceWith(messageItem(m));
  });
  li.append(form);
  input.focus();
}

async function deleteMessage(button, m) {
  if (!button.dataset.confirm) {
    button.dataset.confirm = '1';
    button.firstChild.textContent = 'Confirm delete';
    setTimeout(() => {
      if (button.isConnected) {
        delete button.dataset.confirm;
        button.firstChild.textContent = 'Delete';
      }
    }, 4000);
    return;
  }
  try {
    await api('DELETE', '/api/messages/' + m.message_id);
    applyMessage({ ...m, deleted: true, message: '', attachment: null });
  } catch (err) {
    $('composer-error').textContent = err.message;
  }
}

// A stored message arrived or changed: keep it and show it where it belongs.
// Conversations not connected yet keep nothing: Connect loads their history.
// Returns true the first time a message id is seen.
function applyMessage(m) {
  const id = m.conversation_id;
  const isNew = !state.seen.has(m.message_id);
  state.seen.add(m.message_id);
  if (!state.live.has(id)) return isNew;
  store(id).set(m.message_id, m);
  if (state.current !== id) return isNew;
  const list = $('messages');
  const old = list.querySelector('li[data-id="' + m.message_id + '"]');
  const item = messageItem(m);
  if (old) {
    old.replaceWith(item);
  } else {
    const stick = state.stick || m.sender_id === state.me.user_id;
    const after = [...list.querySelectorAll('li[data-id]')].find((li) => Number(li.dataset.id) > m.message_id);
    if (after) list.insertBefore(item, after);
    else {
      const firstPending = list.querySelector('li.pending, li.failed');
      list.insertBefore(item, firstPending);
    }
    if (stick) scrollToEnd();
  }
  return isNew;
}

function noteId(id) {
  if (id > state.lastId) state.lastId = id;
}

// ---------- sending ----------

function pendingItem(text, file) {
  const li = el('li', { class: 'message mine pending' },
    el('div', { class: 'meta' }, el('span', { class: 'sender', text: 'You' }), el('span', { class: 'state', text: 'sending…' })),
    el('div', { class: 'text', text }));
  if (file) li.append(el('div', { class: 'attachment', text: 'File: ' + file.name }));
  return li;
}

function failPending(cid, reason) {
  const p = state.pending.get(cid);
  if (!p) return;
  p.li.classList.remove('pending');
  p.li.classList.add('failed');
  p.li.querySelector('.state').textContent = 'not sent: ' + reason;
  if (!p.li.querySelector('.retry')) {
    p.li.append(el('div', { class: 'actions' }, el('button', {
      type: 'button',
      class: 'secondary retry',
      onclick: () => {
        state.pending.delete(cid);
        p.li.remove();
        deliver(p.conversation, p.text, p.attachment);
      },
    }, 'Retry')));
  }
}

function deliver(conversation, text, attachment) {
  const cid = clientId();
  const li = pendingItem(text, attachment);
  state.pending.set(cid, { conversation, text, li, attachment, sentOn: null });
  if (state.current === conversation) {
    $('messages').append(li);
    scrollToEnd();
  }
  const frame = { action: 'send', conversation_id: conversation, message: text, client_id: cid };
  if (attachment) frame.attachment_id = attachment.file_id;
  // A socket whose token has run out would be closed by the server on this
  // frame; HTTP refreshes the token first.
  if (state.wsOpen && !tokenExpired()) {
    state.pending.get(cid).sentOn = state.ws;
    state.ws.send(JSON.stringify(frame));
  } else {
    // No socket right now: send over HTTP; it answers only after the commit.
    api('POST', '/api/messages/', { conversation_id: conversation, message: text, attachment_id: attachment ? attachment.file_id : undefined })
      .then((m) => confirmPending(cid, m))
      .catch((e) => failPending(cid, e.message));
  }
}

function confirmPending(cid, m) {
  const p = state.pending.get(cid);
  if (p) {
    state.pending.delete(cid);
    p.li.remove();
  }
  // Not noteId: only the socket moves the resume cursor, or messages sent
  // by others while it was down would be skipped on reconnect.
  applyMessage(m);
  bumpConversation(m);
}

async function sendFromComposer(event) {
  event.preventDefault();
  const input = $('message-input');
  const text = input.value;
  const id = state.current;
  if (!id || !text.trim()) return;
  input.value = '';
  autoGrow();
  $('composer-error').textContent = '';
  deliver(id, text, null);
}

async function attachFile() {
  const input = $('file-input');
  const file = input.files[0];
  input.value = '';
  const id = state.current;
  if (!file || !id) return;
  const error = $('composer-error');
  error.textContent = 'Uploading ' + file.name + '…';
  try {
    const meta = await api('POST', '/api/files?name=' + encodeURIComponent(file.name), file);
    error.textContent = '';
    const text = $('message-input').value;
    $('message-input').value = '';
    deliver(id, text, meta);
  } catch (e) {
    error.textContent = 'Upload failed: ' + e.message;
  }
}

function autoGrow() {
  const t = $('message-input');
  t.style.height = 'auto';
  const h = Math.min(t.scrollHeight + 2, 128);
  t.style.height = h + 'px';
  t.style.overflowY = h >= 128 ? 'auto' : 'hidden';
}

function composerKey(e) {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
    return;
  }
  const now = Date.now();
  if (state.wsOpen && state.current && now - state.lastTyping > 2000 && e.key.length === 1) {
    state.lastTyping = now;
    state.ws.send(JSON.stringify({ action: 'typing', conversation_id: state.current }));
  }
}

function markRead(id) {
  const conv = state.conversations.get(id);
  const last = sorted(id).filter((m) => m.sender_id !== state.me.user_id).pop();
  if (!conv) return;
  conv.unread_count = 0;
  renderSidebar();
  if (!last || last.message_id <= (conv.last_read_id || 0)) return;
  conv.last_read_id = last.message_id;
  if (state.wsOpen) {
    state.ws.send(JSON.stringify({ action: 'read', conversation_id: id, message_id: last.message_id }));
  } else {
    api('POST', '/api/conversations/' + id + '/read', { message_id: last.message_id }).catch(() => {});
  }
}

// ---------- the socket ----------

function ensureSocket() {
  if (state.ws || !state.access) return;
  openSocket();
}

function openSocket() {
  clearTimeout(state.retryTimer);
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  // Always resume: even from 0, messages sent between loading the lists and
  // this socket opening are replayed.
  const url = scheme + location.host + '/api/ws?token=' + encodeURIComponent(state.access) + '&since=' + state.lastId;
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.onopen = () => {
    state.wsOpen = true;
    state.everConnected = true;
    state.retry = 0;
    setStatus('connected', 'online');
    // Frames are in order: once the pong is back, the replay of what was
    // missed is over, and anything still unconfirmed did not get through.
    ws.send(JSON.stringify({ action: 'ping' }));
  };
  ws.onmessage = (e) => {
    let frame;
    try {
      frame = JSON.parse(e.data);
    } catch (err) {
      return;
    }
    onFrame(frame, ws);
  };
  ws.onclose = (e) => {
    state.wsOpen = false;
    state.ws = null;
    // A clean close comes after the server finished every send it had read,
    // so a send not confirmed by the replay was never stored: resend it then.
    // After an abrupt drop nobody knows; the user decides (Retry).
    const clean = [1000, 1001, 1008, 1013].includes(e.code);
    for (const p of state.pending.values()) {
      if (p.sentOn === ws) {
        p.unconfirmed = true;
        p.resend = clean;
      }
    }
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  if (!state.access) return;
  setStatus('reconnecting…', 'reconnecting');
  const delay = Math.min(500 * 2 ** state.retry, 8000);
  state.retry += 1;
  state.retryTimer = setTimeout(async () => {
    // A refused upgrade looks like any drop; make sure the token is fresh.
    try {
      await api('GET', '/api/users/me');
    } catch (e) {
      if (!state.access) return;
    }
    openSocket();
  }, delay);
}

function onFrame(f, ws) {
  switch (f.action) {
    case 'message': {
      const m = f.message;
      noteId(m.message_id);
      let cid = f.client_id;
      if (!cid && m.sender_id === state.me.user_id) {
        // A replayed message of ours has no client_id: match it by content.
        for (const [k, p] of state.pending) {
          if (p.unconfirmed && p.conversation === m.conversation_id && p.text === m.message) {
            cid = k;
            break;
          }
        }
      }
      if (cid && state.pending.has(cid)) {
        const p = state.pending.get(cid);
        state.pending.delete(cid);
        p.li.remove();
      }
      if (f.reply_id) dropDraft(f.reply_id);
      const isNew = applyMessage(m);
      if (isNew) bumpConversation(m);
      clearTyping(m.conversation_id, m.sender_username);
      break;
    }
    case 'message_updated':
    case 'message_deleted':
      applyMessage(f.message);
      break;
    case 'message_delta':
      showDraft(f);
      break;
    case 'typing':
      showTyping(f.conversation_id, f.username);
      break;
    case 'read':
      if (f.user_id !== state.me.user_id) seenUpTo(f.conversation_id, f.message_id);
      break;
    case 'presence':
      state.online.set(f.user_id, f.online);
      renderSidebar();
      renderPresence();
      break;
    case 'error':
      if (f.client_id && state.pending.has(f.client_id)) failPending(f.client_id, f.message);
      else if (f.reply_id) agentFailed(f);
      else $('composer-error').textContent = f.message;
      break;
    case 'pong':
      // The replay is over: what is still unconfirmed was not stored.
      for (const [cid, p] of state.pending) {
        if (!p.unconfirmed) continue;
        if (p.resend) {
          state.pending.delete(cid);
          p.li.remove();
          deliver(p.conversation, p.text, p.attachment);
        } else {
          failPending(cid, 'connection lost');
        }
      }
      break;
    default:
      break;
  }
  if (ws !== state.ws) ws.close();
}

// ---------- the AI agent's replies as they are written ----------

// A reply being written: "thinking…" until text arrives, then the text so far.
function showDraft(f) {
  let d = state.drafts.get(f.reply_id);
  if (!d) {
    const li = el('li', { class: 'message draft', 'data-reply': f.reply_id, 'aria-busy': 'true' },
      el('div', { class: 'meta' },
        el('span', { class: 'sender', text: f.username }),
        el('span', { class: 'state', text: 'thinking…' })),
      el('div', { class: 'text' }));
    d = { conversation: f.conversation_id, li };
    state.drafts.set(f.reply_id, d);
    if (state.current === f.conversation_id && state.live.has(f.conversation_id)) {
      const list = $('messages');
      list.insertBefore(li, list.querySelector('li.pending, li.failed'));
    }
  }
  d.li.querySelector('.text').textContent = f.text;
  d.li.querySelector('.state').textContent = f.state === 'thinking' ? 'thinking…' : 'writing…';
  if (state.current === f.conversation_id && state.stick) scrollToEnd();
}

function agentName() {
  const agent = state.server && state.server.ai_agent;
  return agent ? agent.name || agent.username : 'The assistant';
}

function dropDraft(replyId) {
  const d = state.drafts.get(replyId);
  if (!d) return;
  state.drafts.delete(replyId);
  d.li.remove();
}

// The agent could not answer: say why, in the conversation (its stored note follows).
function agentFailed(f) {
  dropDraft(f.reply_id);
  if (state.current !== f.conversation_id || !state.live.has(f.conversation_id)) return;
  const list = $('messages');
  list.append(el('li', { class: 'message notice', role: 'status' },
    el('div', { class: 'text', text: agentName() + ' could not answer: ' + f.message })));
  if (state.stick) scrollToEnd();
}

function bumpConversation(m) {
  const conv = state.conversations.get(m.conversation_id);
  if (!conv) {
    // Someone started a conversation with us, or added us to a room.
    loadSidebar().catch(() => {});
    return;
  }
  conv.last_message = m;
  const viewing = state.current === m.conversation_id && state.live.has(m.conversation_id) && !document.hidden;
  if (m.sender_id !== state.me.user_id) {
    if (viewing) markRead(m.conversation_id);
    else conv.unread_count = (conv.unread_count || 0) + 1;
  }
  // Most recent first.
  state.conversations.delete(m.conversation_id);
  state.conversations = new Map([[m.conversation_id, conv], ...state.conversations]);
  renderSidebar();
}

function seenUpTo(id, upto) {
  for (const m of store(id).values()) {
    if (m.sender_id === state.me.user_id && m.message_id <= upto && !m.seen) {
      m.seen = true;
      applyMessage(m);
    }
  }
}

function showTyping(id, name) {
  if (!state.typing.has(id)) state.typing.set(id, new Map());
  const who = state.typing.get(id);
  clearTimeout(who.get(name));
  who.set(name, setTimeout(() => clearTyping(id, name), 4000));
  renderTyping();
}

function clearTyping(id, name) {
  const who = state.typing.get(id);
  if (!who || !who.has(name)) return;
  clearTimeout(who.get(name));
  who.delete(name);
  renderTyping();
}

function renderTyping() {
  const who = state.typing.get(state.current);
  const names = who ? [...who.keys()] : [];
  $('typing').textContent = names.length ? names.join(', ') + (names.length === 1 ? ' is typing…' : ' are typing…') : '';
}

// ---------- start ----------

async function start() {
  if (!state.access) {
    signedOut();
    return;
  }
  try {
    state.me = await api('GET', '/api/users/me');
  } catch (e) {
    if (state.access) signedOut(e.status === 401 ? '' : 'Cannot reach the server: ' + e.message);
    return;
  }
  $('auth').hidden = true;
  $('app').hidden = false;
  $('me').textContent = 'Signed in as ' + state.me.username;
  setStatus('offline');
  state.server = await api('GET', '/api/server').catch(() => null);
  const agent = state.server && state.server.ai_agent;
  $('ai-chat').hidden = !agent;
  if (agent) $('ai-chat-button').textContent = 'Chat with ' + agent.name;
  await loadSidebar();
  ensureSocket();
}

function wire() {
  $('login-form').addEventListener('submit', (e) => submitAuth(e, '/api/auth/login', ['username', 'password'], 'login-error'));
  $('signup-form').addEventListener('submit', (e) => submitAuth(e, '/api/auth/register', ['username', 'name', 'password'], 'signup-error'));
  $('logout').addEventListener('click', logout);
  $('new-room-form').addEventListener('submit', createRoom);
  $('search-form').addEventListener('submit', (e) => e.preventDefault());
  $('user-search').addEventListener('input', searchPeople);
  $('ai-chat-button').addEventListener('click', startAiChat);
  $('connect').addEventListener('click', connect);
  $('composer').addEventListener('submit', sendFromComposer);
  $('message-input').addEventListener('keydown', composerKey);
  $('message-input').addEventListener('input', autoGrow);
  $('file-input').addEventListener('change', attachFile);
  $('load-older').addEventListener('click', loadOlder);
  $('scroller').addEventListener('scroll', () => {
    state.stick = nearEnd();
    if ($('scroller').scrollTop < 20 && state.oldest.get(state.current)) loadOlder();
  });
  $('show-sidebar').addEventListener('click', () => $('app').classList.remove('viewing'));
  window.addEventListener('storage', (e) => {
    if (e.key === 'natter.refresh') {
      if (e.newValue) adoptStoredTokens();
      else if (state.me) signedOut('You logged out in another tab.');
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.current && state.live.has(state.current)) markRead(state.current);
  });
}

wire();
start();
