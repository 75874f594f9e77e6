// The sidebar: conversations, public rooms, new rooms, people search, and
// the unread counts (in the list, the tab title, and the phone's
// Conversations button).

import { api, explain } from './api.js';
import { select } from './conversation.js';
import { $, el } from './dom.js';
import { countUnread, renderMentionCount } from './notify.js';
import { otherMember, presenceDot, titleOf } from './people.js';
import { state } from './state.js';

function previewOf(m) {
  if (!m) return 'No messages yet';
  if (m.deleted) return 'message deleted';
  const who = m.sender_id === state.me.user_id ? 'You: ' : '';
  return who + (m.message || (m.attachment ? 'attachment: ' + m.attachment.name : ''));
}

/** Unread messages everywhere: in the tab title and on the phone's button. */
function renderTotals() {
  let total = 0;
  for (const c of state.conversations.values()) total += c.unread_count || 0;
  document.title = total ? '(' + total + ') natter' : 'natter';
  const badge = $('total-unread');
  badge.textContent = total ? String(total) : '';
  badge.setAttribute('aria-label', total ? total + ' unread' : '');
  renderMentionCount();
}

export function renderSidebar() {
  const rooms = $('room-list');
  const directs = $('direct-list');
  rooms.replaceChildren();
  directs.replaceChildren();
  for (const conv of state.conversations.values()) {
    const isRoom = conv.kind === 'room';
    const marker = isRoom
      ? el('span', { class: 'dot room', 'aria-hidden': 'true', text: '#' })
      : presenceDot(otherMember(conv) && otherMember(conv).user_id);
    // The badge counts what the notify level hears; a mention of you marks
    // it; a muted conversation is dimmed, and bold while it has unread.
    const unread = conv.unread_count > 0 ? String(conv.unread_count) : '';
    const mentioned = conv.unread_mentions > 0;
    const label = unread ? unread + ' unread' + (mentioned ? ', ' + conv.unread_mentions + ' mention you' : '') : null;
    const item = el('button', {
      type: 'button',
      class: 'conv-item' + (conv.notify === 'nothing' ? ' muted' : '') + (conv.unread_total > 0 ? ' unread' : ''),
      'data-id': conv.conversation_id,
      'aria-current': conv.conversation_id === state.current ? 'true' : 'false',
      onclick: () => select(conv.conversation_id),
    },
    marker,
    el('span', { class: 'name', text: titleOf(conv) }),
    el('span', { class: 'badge' + (mentioned ? ' mention' : ''), text: unread, 'aria-label': label }),
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
  renderTotals();
}

export async function loadSidebar() {
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

export function noteId(id) {
  if (id > state.lastId) state.lastId = id;
}

async function joinRoom(id) {
  try {
    const conv = await api('POST', '/api/rooms/' + id + '/join');
    state.conversations.set(conv.conversation_id, conv);
    await loadSidebar();
    select(conv.conversation_id);
  } catch (e) {
    $('new-room-error').textContent = explain(e);
  }
}

export async function createRoom(event) {
  event.preventDefault();
  const input = $('new-room-name');
  const error = $('new-room-error');
  error.textContent = '';
  if (!input.value.trim()) {
    error.textContent = 'Give the room a name.';
    input.focus();
    return;
  }
  try {
    const conv = await api('POST', '/api/conversations', { name: input.value.trim(), kind: 'room' });
    input.value = '';
    state.conversations.set(conv.conversation_id, conv);
    await loadSidebar();
    select(conv.conversation_id);
  } catch (e) {
    error.textContent = explain(e);
  }
}

let searchTimer = null;
export function searchPeople() {
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
        presenceDot(u.user_id),
        el('span', { class: 'name', text: u.name ? u.name + ' (' + u.username + ')' : u.username }),
        el('span', { class: 'badge' }),
        el('span', { class: 'last', text: u.is_bot ? 'AI assistant' : 'message' }))));
      }
      if (!list.children.length) list.append(el('li', { class: 'empty-note', text: 'Nobody found.' }));
    } catch (e) {
      list.replaceChildren(el('li', { class: 'error', text: explain(e) }));
    }
  }, 200);
}

export async function startAiChat() {
  const error = $('ai-chat-error');
  error.textContent = '';
  try {
    const conv = await api('POST', '/api/conversations', { is_ai: true });
    state.conversations.set(conv.conversation_id, conv);
    renderSidebar();
    select(conv.conversation_id);
  } catch (e) {
    error.textContent = explain(e);
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
    $('search-results').replaceChildren(el('li', { class: 'error', text: explain(e) }));
  }
}

/** A message arrived: its conversation moves to the top, unread unless it is being read. */
export function bumpConversation(m) {
  const conv = state.conversations.get(m.conversation_id);
  if (!conv) {
    // Someone started a conversation with us, or added us to a room.
    loadSidebar().catch(() => {});
    return;
  }
  conv.last_message = m;
  const reading = state.current === m.conversation_id && state.connected && !document.hidden;
  if (m.sender_id !== state.me.user_id && !reading) countUnread(conv, m);
  // Most recent first.
  state.conversations.delete(m.conversation_id);
  state.conversations = new Map([[m.conversation_id, conv], ...state.conversations]);
  renderSidebar();
}

/** A room was created, joined, left, renamed or deleted (a `room` frame). */
export function roomChanged(f) {
  const id = f.conversation_id;
  const conv = state.conversations.get(id);
  const mine = f.user_id === state.me.user_id;
  if (f.change === 'deleted') {
    state.conversations.delete(id);
    state.rooms = state.rooms.filter((r) => r.conversation_id !== id);
    renderSidebar();
    return { closed: true };
  }
  if ((f.change === 'joined' || f.change === 'left') && mine) {
    // Another tab of ours joined or left: the lists change.
    loadSidebar().catch(() => {});
    return { closed: f.change === 'left' };
  }
  if (f.change === 'created') {
    if (!state.rooms.some((r) => r.conversation_id === id)) {
      state.rooms.push({ conversation_id: id, name: f.name, member_count: f.member_count, joined: false });
      state.rooms.sort((a, b) => a.name.localeCompare(b.name));
    }
    // Our own new room is in the list already (made by this tab) or arrives with its reload.
    api('GET', '/api/rooms').then((rooms) => { state.rooms = rooms; renderSidebar(); }).catch(() => {});
  }
  for (const r of state.rooms) {
    if (r.conversation_id === id) {
      r.name = f.name;
      r.member_count = f.member_count;
    }
  }
  if (conv) {
    if (f.name) conv.name = f.name;
    if (f.change === 'joined' && !conv.participants.some((p) => p.user_id === f.user_id)) {
      conv.participants.push({ user_id: f.user_id, username: f.username, name: f.user_name || '', online: true });
      state.online.set(f.user_id, true);
    }
    if (f.change === 'left') conv.participants = conv.participants.filter((p) => p.user_id !== f.user_id);
    conv.member_count = f.member_count;
  }
  renderSidebar();
  return { closed: false };
}

