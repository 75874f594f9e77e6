// The sidebar: conversations, public rooms, new rooms, people search.

import { api } from './api.js';
import { markRead, noteId, select } from './conversation.js';
import { $, el } from './dom.js';
import { state } from './state.js';

export function otherMember(conv) {
  return conv.participants.find((p) => p.user_id !== state.me.user_id) || conv.participants[0];
}

export function titleOf(conv) {
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

export function renderSidebar() {
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

export async function createRoom(event) {
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

export async function startAiChat() {
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

export function bumpConversation(m) {
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
