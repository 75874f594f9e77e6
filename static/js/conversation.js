// The conversation view: choosing one, Connect, history, read marks, typing.

import { api } from './api.js';
import { $, PAGE } from './dom.js';
import { messageItem } from './messages.js';
import { otherMember, renderSidebar, titleOf } from './sidebar.js';
import { ensureSocket } from './socket.js';
import { state } from './state.js';

export function select(id) {
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

export function renderPresence() {
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

export async function connect() {
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

export async function loadOlder() {
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

export function scrollToEnd() {
  const s = $('scroller');
  s.scrollTop = s.scrollHeight;
  state.stick = true;
}

export function nearEnd() {
  const s = $('scroller');
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

export function isDirect(id) {
  const c = state.conversations.get(id);
  return c && c.kind === 'direct';
}

// A stored message arrived or changed: keep it and show it where it belongs.
// Conversations not connected yet keep nothing: Connect loads their history.
// Returns true the first time a message id is seen.
export function applyMessage(m) {
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

export function noteId(id) {
  if (id > state.lastId) state.lastId = id;
}

export function markRead(id) {
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

export function seenUpTo(id, upto) {
  for (const m of store(id).values()) {
    if (m.sender_id === state.me.user_id && m.message_id <= upto && !m.seen) {
      m.seen = true;
      applyMessage(m);
    }
  }
}

export function showTyping(id, name) {
  if (!state.typing.has(id)) state.typing.set(id, new Map());
  const who = state.typing.get(id);
  clearTimeout(who.get(name));
  who.set(name, setTimeout(() => clearTyping(id, name), 4000));
  renderTyping();
}

export function clearTyping(id, name) {
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
