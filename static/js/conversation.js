// The conversation view: choosing one (each has its own URL, #/c/<id>),
// going live with Connect (once a visit), history with day separators and
// a "new" divider, opening one at a message (from search) with the history
// around it, read marks, typing, members.

import { api, explain } from './api.js';
import { resetComposer } from './composer.js';
import { $, PAGE, dayKey, dayLabel, el, isTouch } from './dom.js';
import { messageItem } from './messages.js';
import { clearUnread, renderLevel } from './notify.js';
import { displayName, otherMember, presenceDot, titleOf } from './people.js';
import { loadSidebar, renderSidebar } from './sidebar.js';
import { openSocket } from './socket.js';
import { state } from './state.js';

/** Messages of one sender this close together read as one run. */
const RUN_GAP_MS = 5 * 60 * 1000;

/** The conversation the URL names, or none. */
export function route() {
  const m = location.hash.match(/^#\/c\/([0-9a-f-]{36})$/);
  if (m && state.conversations.has(m[1])) {
    select(m[1], { push: false });
  } else {
    state.current = null;
    $('conversation').hidden = true;
    $('empty-view').hidden = false;
    $('app').classList.remove('viewing');
    renderSidebar();
  }
}

/**
 * Show conversation `id`: its newest messages, or with `around` (a message
 * id) the history around that message, scrolled to it and marked.
 */
export function select(id, { push = true, around = null } = {}) {
  const conv = state.conversations.get(id);
  if (!conv) return;
  // A page around a message that was found is left behind: opened again,
  // the conversation starts from its newest messages.
  if (state.newer.has(id) || around) forget(id);
  state.found = around ? { conversation: id, message: around } : null;
  if (state.current && state.current !== id) state.newSince.delete(state.current);
  state.current = id;
  if (push && location.hash !== '#/c/' + id) history.pushState(null, '', '#/c/' + id);
  $('empty-view').hidden = true;
  $('conversation').hidden = false;
  $('app').classList.add('viewing');
  $('conv-title').textContent = (conv.kind === 'room' ? '# ' : '') + titleOf(conv);
  closeMembers();
  renderLevel();
  renderPresence();
  renderSidebar();
  resetComposer();
  renderTyping();
  $('new-below').hidden = true;
  if (!state.newSince.has(id)) state.newSince.set(id, conv.last_read_id || 0);
  renderConnectState();
  $('messages').replaceChildren();
  $('load-older').hidden = true;
  if (!state.connected) return;
  if (around) {
    loadAround(id, around)
      .then((ok) => { if (ok && state.current === id) showFound(id); })
      .catch((e) => { $('composer-error').textContent = explain(e); });
    return;
  }
  if (state.loaded.has(id)) {
    showConversation(id);
  } else {
    loadPage(id)
      .then(() => {
        state.loaded.add(id);
        if (state.current === id) showConversation(id);
      })
      .catch((e) => { $('composer-error').textContent = explain(e); });
  }
}

function showConversation(id) {
  renderAll(id);
  markRead(id);
  if (!isTouch()) $('message-input').focus();
}

/** Connect and the status say where the page stands; the composer shows once live. */
export function renderConnectState() {
  $('connect-top').hidden = state.connected;
  $('connect').hidden = state.connected;
  $('composer').hidden = !state.connected;
  $('empty-text').textContent = state.connected
    ? 'Pick a room or a person to chat with.'
    : 'Pick a room or a person, then press Connect to chat live.';
  if (!state.connected) {
    $('conn-status').textContent = 'offline';
    $('conn-status').className = 'status';
  }
}

/**
 * Go live: open the socket, and show every conversation's messages from now
 * on (the one open now too, unless `show` is false: the caller opens one).
 */
export function goLive({ show = true } = {}) {
  if (state.connected) return;
  state.connected = true;
  sessionStorage.setItem('natter.connected', '1');
  renderConnectState();
  openSocket();
  if (show && state.current) select(state.current, { push: false });
}

/**
 * Open conversation `id` at message `messageId` (a search result): the
 * history around it, scrolled into view and marked. Reading it is asking
 * to see messages, so the page goes live if it was not.
 */
export async function jumpTo(id, messageId) {
  if (!state.conversations.has(id)) await loadSidebar();
  if (!state.conversations.has(id)) return;
  goLive({ show: false });
  select(id, { around: messageId });
}

/** What was loaded of `id` goes; a load still under way is ignored when it lands. */
function forget(id) {
  state.loaded.delete(id);
  state.messages.delete(id);
  state.oldest.delete(id);
  state.newer.delete(id);
  state.generation.set(id, (state.generation.get(id) || 0) + 1);
}

export function connect() {
  goLive();
  if (state.current && !isTouch()) $('message-input').focus();
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
    const n = conv.participants.length;
    p.textContent = n + (n === 1 ? ' member' : ' members');
  }
  if (!$('members-panel').hidden) renderMembers();
}

// ---------- members ----------

export function toggleMembers() {
  const panel = $('members-panel');
  if (panel.hidden) {
    renderMembers();
    panel.hidden = false;
    $('members-button').setAttribute('aria-expanded', 'true');
  } else {
    closeMembers();
  }
}

function closeMembers() {
  $('members-panel').hidden = true;
  $('members-button').setAttribute('aria-expanded', 'false');
  $('room-error').textContent = '';
}

function renderMembers() {
  const conv = state.conversations.get(state.current);
  if (!conv) return;
  const list = $('member-list');
  list.replaceChildren();
  const people = [...conv.participants].sort((a, b) => displayName(a).localeCompare(displayName(b)));
  for (const p of people) {
    const who = displayName(p) + (p.name && p.name !== p.username ? ' (' + p.username + ')' : '');
    list.append(el('li', {}, presenceDot(p.user_id),
      el('span', { class: 'name', text: who + (p.user_id === state.me.user_id ? ' — you' : '') }),
      p.is_bot ? el('span', { class: 'tag', text: 'AI' }) : null));
  }
  const isRoom = conv.kind === 'room';
  const mine = conv.created_by === state.me.user_id;
  $('room-actions').hidden = !isRoom;
  $('rename-form').hidden = !(isRoom && mine);
  // An admin may delete any room (moderation).
  $('delete-room').hidden = !(isRoom && (mine || state.me.role === 'admin'));
  $('rename-input').value = conv.name || '';
}

export async function renameRoom(event) {
  event.preventDefault();
  const id = state.current;
  const name = $('rename-input').value.trim();
  $('room-error').textContent = '';
  try {
    const conv = await api('PATCH', '/api/conversations/' + id, { name });
    state.conversations.set(id, conv);
    $('conv-title').textContent = '# ' + conv.name;
    renderSidebar();
  } catch (e) {
    $('room-error').textContent = explain(e);
  }
}

export async function leaveRoom() {
  const id = state.current;
  try {
    await api('DELETE', '/api/conversations/' + id + '/members/me');
    closed(id);
  } catch (e) {
    $('room-error').textContent = explain(e);
  }
}

export async function deleteRoom(event) {
  const button = event.currentTarget;
  if (!button.dataset.confirm) {
    button.dataset.confirm = '1';
    button.textContent = 'Delete the room and all its messages?';
    setTimeout(() => {
      delete button.dataset.confirm;
      button.textContent = 'Delete room';
    }, 5000);
    return;
  }
  const id = state.current;
  try {
    const conv = state.conversations.get(id);
    const mine = conv && conv.created_by === state.me.user_id;
    await api('DELETE', (mine ? '/api/conversations/' : '/api/admin/conversations/') + id);
    closed(id);
  } catch (e) {
    $('room-error').textContent = explain(e);
  }
}

/** The conversation is gone for us (left or deleted): back to the list. */
export function closed(id) {
  state.conversations.delete(id);
  state.loaded.delete(id);
  state.messages.delete(id);
  if (state.current === id) {
    history.replaceState(null, '', location.pathname);
    route();
  } else {
    renderSidebar();
  }
}

// ---------- history ----------

export function store(id) {
  if (!state.messages.has(id)) state.messages.set(id, new Map());
  return state.messages.get(id);
}

async function loadPage(id, before) {
  const q = before ? '?limit=' + PAGE + '&before=' + before : '?limit=' + PAGE;
  const generation = state.generation.get(id);
  const page = await api('GET', '/api/conversations/' + id + q);
  if (state.generation.get(id) !== generation) return [];
  const msgs = store(id);
  for (const m of page) {
    msgs.set(m.message_id, m);
    state.seen.add(m.message_id);
  }
  const oldest = page.length ? page[0].message_id : 0;
  if (!before || state.oldest.get(id) !== 0) state.oldest.set(id, page.length < PAGE ? 0 : oldest);
  return page;
}

/**
 * The page around message `at`: up to (PAGE - 1) / 2 messages before it,
 * then it and what follows. A full page may not reach the newest message:
 * the rest loads as the view is scrolled down (`state.newer`).
 * Returns false when the conversation was reloaded meanwhile.
 */
async function loadAround(id, at) {
  const generation = state.generation.get(id);
  const page = await api('GET', '/api/conversations/' + id + '?limit=' + PAGE + '&around=' + at);
  if (state.generation.get(id) !== generation) return false;
  const msgs = store(id);
  for (const m of page) {
    msgs.set(m.message_id, m);
    state.seen.add(m.message_id);
  }
  const index = page.findIndex((m) => m.message_id === at);
  state.oldest.set(id, index >= Math.floor((PAGE - 1) / 2) ? page[0].message_id : 0);
  if (page.length === PAGE) {
    const last = page[page.length - 1].message_id;
    state.newer.set(id, last);
    // Live messages that came while this loaded belong after a gap: they
    // come back with the pages that follow.
    for (const k of [...msgs.keys()]) if (k > last) msgs.delete(k);
  }
  state.loaded.add(id);
  return true;
}

/** Show the message that was jumped to: in the middle of the view, marked. */
function showFound(id) {
  renderAll(id, { keepScroll: true });
  const li = markFound(id);
  if (li) {
    li.scrollIntoView({ block: 'center' });
    li.focus({ preventScroll: true });
  }
  state.stick = nearEnd() && !state.newer.has(id);
  markRead(id);
}

function markFound(id) {
  const found = state.found;
  if (!found || found.conversation !== id) return null;
  const li = $('messages').querySelector('li[data-id="' + found.message + '"]');
  if (li) {
    li.classList.add('found');
    li.setAttribute('tabindex', '-1');
    li.setAttribute('aria-label', 'Found message');
  }
  return li;
}

/** The messages after the loaded ones, when the view does not reach the newest. */
export async function loadNewer() {
  const id = state.current;
  const after = state.newer.get(id);
  if (!id || !after || $('load-newer').disabled) return;
  $('load-newer').disabled = true;
  const generation = state.generation.get(id);
  try {
    const page = await api('GET', '/api/conversations/' + id + '?limit=' + PAGE + '&after=' + after);
    if (state.generation.get(id) !== generation) return;
    const msgs = store(id);
    for (const m of page) {
      msgs.set(m.message_id, m);
      state.seen.add(m.message_id);
    }
    if (page.length < PAGE) state.newer.delete(id);
    else state.newer.set(id, page[page.length - 1].message_id);
    renderAll(id, { keepScroll: true });
    markRead(id);
  } catch (e) {
    $('composer-error').textContent = explain(e);
  } finally {
    $('load-newer').disabled = false;
  }
}

/** "New messages ↓": the end of the conversation, reloaded if the view is a page found by search. */
export function toLatest() {
  const id = state.current;
  if (id && state.newer.has(id)) select(id, { push: false });
  else scrollToEnd();
}

export async function loadOlder() {
  const id = state.current;
  const before = state.oldest.get(id);
  if (!id || !before || $('load-older').disabled) return;
  const scroller = $('scroller');
  const height = scroller.scrollHeight;
  $('load-older').disabled = true;
  try {
    await loadPage(id, before);
    renderAll(id, { keepScroll: true });
    scroller.scrollTop = scroller.scrollHeight - height;
  } catch (e) {
    $('composer-error').textContent = explain(e);
  } finally {
    $('load-older').disabled = false;
  }
}

export function sorted(id) {
  return [...store(id).values()].sort((a, b) => a.message_id - b.message_id);
}

/** Does `m` continue `prev`'s run (same sender, same day, minutes apart)? */
function continues(prev, m) {
  return !!prev && !prev.deleted && !m.deleted && prev.sender_id === m.sender_id
    && dayKey(prev.timestamp) === dayKey(m.timestamp)
    && new Date(m.timestamp) - new Date(prev.timestamp) < RUN_GAP_MS;
}

function dayItem(m) {
  return el('li', { class: 'day' }, el('span', { text: dayLabel(m.timestamp) }));
}

/**
 * The "New" divider goes before the first message from someone else that
 * was unread when the conversation was opened (`newSince` holds the read
 * mark then). Messages that arrive while it is open need none.
 */
function unreadAtOpen(id, m) {
  const since = state.newSince.get(id);
  return since !== undefined && m.message_id > since && m.sender_id !== state.me.user_id;
}

export function renderAll(id, { keepScroll = false } = {}) {
  const list = $('messages');
  list.replaceChildren();
  let prev = null;
  let divided = false;
  for (const m of sorted(id)) {
    let cont = continues(prev, m);
    if (!prev || dayKey(prev.timestamp) !== dayKey(m.timestamp)) {
      list.append(dayItem(m));
      cont = false;
    }
    if (!divided && unreadAtOpen(id, m)) {
      // A list may hold only list items: the divider is one, saying what it is.
      list.append(el('li', { class: 'new-divider' }, el('span', { text: 'New' }), el('span', { class: 'visually-hidden', text: ' messages below' })));
      divided = true;
      cont = false;
    }
    list.append(messageItem(m, { cont }));
    prev = m;
  }
  // Nothing was unread: no divider for what arrives while it is open.
  if (!divided) state.newSince.set(id, Infinity);
  for (const d of state.drafts.values()) if (d.conversation === id) list.append(d.li);
  for (const p of state.pending.values()) if (p.conversation === id) list.append(p.li);
  $('load-older').hidden = !state.oldest.get(id);
  $('load-newer').hidden = !state.newer.has(id);
  markFound(id);
  if (!keepScroll) {
    const divider = list.querySelector('li.new-divider');
    if (divider && !nearEnd()) divider.scrollIntoView({ block: 'center' });
    else scrollToEnd();
  }
}

export function scrollToEnd() {
  const s = $('scroller');
  s.scrollTop = s.scrollHeight;
  state.stick = true;
  $('new-below').hidden = true;
}

export function nearEnd() {
  const s = $('scroller');
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

export function onScroll() {
  const detached = state.newer.has(state.current);
  state.stick = nearEnd() && !detached;
  if (state.stick) $('new-below').hidden = true;
  if ($('scroller').scrollTop < 20 && state.oldest.get(state.current)) loadOlder();
  if (detached && nearEnd()) loadNewer();
}

export function isDirect(id) {
  const c = state.conversations.get(id);
  return c && c.kind === 'direct';
}

// A stored message arrived or changed: keep it and show it where it belongs.
// Returns true the first time a message id is seen.
export function applyMessage(m) {
  const id = m.conversation_id;
  const isNew = !state.seen.has(m.message_id);
  state.seen.add(m.message_id);
  const msgs = store(id);
  // Past the end of a page found by search: it comes with the pages after it.
  const beyond = state.newer.has(id) && m.message_id > state.newer.get(id);
  if (beyond && state.current === id && isNew) $('new-below').hidden = false;
  if (beyond) return isNew;
  const newest = !msgs.size || m.message_id > Math.max(...msgs.keys());
  msgs.set(m.message_id, m);
  if (state.current !== id || !state.connected || !state.loaded.has(id)) return isNew;
  const list = $('messages');
  const old = list.querySelector('li[data-id="' + m.message_id + '"]');
  if (old) {
    old.replaceWith(messageItem(m, { cont: old.classList.contains('cont') }));
    return isNew;
  }
  if (!newest) {
    renderAll(id, { keepScroll: true });
    return isNew;
  }
  // The newest message: after the last shown one, before drafts and pending sends.
  const shown = sorted(id);
  const prev = shown.length > 1 ? shown[shown.length - 2] : null;
  const before = list.querySelector('li.draft, li.pending, li.failed');
  const newDay = !prev || dayKey(prev.timestamp) !== dayKey(m.timestamp);
  if (newDay) list.insertBefore(dayItem(m), before);
  list.insertBefore(messageItem(m, { cont: !newDay && continues(prev, m) }), before);
  const mine = m.sender_id === state.me.user_id;
  if (state.stick || mine) scrollToEnd();
  else if (isNew) $('new-below').hidden = false;
  return isNew;
}

export function markRead(id) {
  const conv = state.conversations.get(id);
  if (!conv || !state.connected) return;
  const last = sorted(id).filter((m) => m.sender_id !== state.me.user_id).pop();
  clearUnread(conv);
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

// ---------- typing ----------

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

export function renderTyping() {
  const who = state.typing.get(state.current);
  const names = who ? [...who.keys()] : [];
  $('typing').textContent = names.length ? names.join(', ') + (names.length === 1 ? ' is typing…' : ' are typing…') : '';
}

