// People as the page names them: display names first, usernames otherwise,
// and who is online — said in words and shape, not only colour.

import { el } from './dom.js';
import { state } from './state.js';

/** "Alice Liddell", or "alice" when she set no name. */
export function displayName(u) {
  return (u && (u.name || u.username)) || '';
}

/** The sender of a message, by display name. */
export function senderName(m) {
  return m.sender_name || m.sender_username;
}

/** The member of a direct (or AI) conversation who is not me. */
export function otherMember(conv) {
  return conv.participants.find((p) => p.user_id !== state.me.user_id) || conv.participants[0];
}

export function titleOf(conv) {
  if (conv.kind === 'room') return conv.name;
  const o = otherMember(conv);
  return o ? displayName(o) : 'direct';
}

/** A dot that is filled when online and a ring when not, with the words for it. */
export function presenceDot(userId) {
  const on = !!state.online.get(userId);
  return el('span', { class: 'dot' + (on ? ' online' : ''), title: on ? 'online' : 'offline' },
    el('span', { class: 'visually-hidden', text: on ? ' (online)' : ' (offline)' }));
}
