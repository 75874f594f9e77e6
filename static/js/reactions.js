// Replies and reactions: the quote a reply shows (a button that goes to the
// message it answers), the reaction chips under a message (press one to add
// or take back your own), the small palette to pick a new one, and the
// composer's "Replying to …" bar.

import { api, explain } from './api.js';
import { applyMessage, jumpTo, store } from './conversation.js';
import { $, el } from './dom.js';
import { senderName } from './people.js';
import { state } from './state.js';

/** The emoji the palette offers. */
export const PALETTE = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

function snippet(text) {
  const one = (text || '').replace(/\s+/g, ' ').trim();
  return one.length > 80 ? one.slice(0, 79) + '…' : one;
}

/** Scroll to a shown message and mark it for a moment. */
export function goTo(id) {
  const li = $('messages').querySelector('li[data-id="' + id + '"]');
  if (!li) return false;
  li.scrollIntoView({ block: 'center' });
  li.classList.add('flash');
  setTimeout(() => li.classList.remove('flash'), 1600);
  return true;
}

/** The quote at the top of a reply; `null` for a message that answers none. */
export function replyQuote(m) {
  if (!m.reply_to) return null;
  const original = store(m.conversation_id).get(m.reply_to);
  const who = original ? senderName(original) : '';
  const what = !original ? 'an earlier message' : original.deleted ? 'a deleted message' : snippet(original.message);
  const quote = el('button', { type: 'button', class: 'reply-quote', title: 'Go to the message this answers' },
    el('span', { class: 'visually-hidden', text: 'In reply to ' }),
    who ? el('span', { class: 'reply-who', text: who }) : null,
    el('span', { class: 'reply-text', text: what }));
  // Not loaded (further up): open the history around it, as a search result does.
  quote.addEventListener('click', () => {
    if (!goTo(m.reply_to)) jumpTo(m.conversation_id, m.reply_to);
  });
  return quote;
}

function mine(r) {
  return r.users.some((u) => u.user_id === state.me.user_id);
}

/** Add (or take back) the caller's `emoji` on `m`. */
export async function react(m, emoji, added) {
  $('composer-error').textContent = '';
  try {
    const path = '/api/messages/' + m.message_id + '/reactions';
    const updated = added
      ? await api('POST', path, { emoji })
      : await api('DELETE', path + '?emoji=' + encodeURIComponent(emoji));
    applyMessage(updated);
  } catch (e) {
    $('composer-error').textContent = 'Reaction not saved: ' + explain(e);
  }
}

/** The chips under a message: one per emoji, pressed if it is yours. */
export function reactionChips(m) {
  if (m.deleted || !m.reactions || !m.reactions.length) return null;
  const box = el('div', { class: 'reactions' });
  for (const r of m.reactions) {
    const pressed = mine(r);
    const names = r.users.map((u) => u.username).join(', ');
    box.append(el('button', {
      type: 'button',
      class: 'reaction' + (pressed ? ' mine' : ''),
      'aria-pressed': pressed ? 'true' : 'false',
      title: names,
      'data-emoji': r.emoji,
      onclick: () => react(m, r.emoji, !pressed),
    }, el('span', { class: 'emoji', text: r.emoji }), el('span', { class: 'count', text: String(r.count) }),
    el('span', { class: 'visually-hidden', text: ' by ' + names })));
  }
  return box;
}

/** The React button: opens a row of emoji to pick from. */
export function reactButton(li, m) {
  return el('button', {
    type: 'button',
    class: 'secondary react',
    'aria-expanded': 'false',
    onclick: (e) => {
      const button = e.currentTarget;
      const open = li.querySelector('.palette');
      if (open) {
        open.remove();
        button.setAttribute('aria-expanded', 'false');
        return;
      }
      button.setAttribute('aria-expanded', 'true');
      const palette = el('div', { class: 'palette', role: 'group', 'aria-label': 'Pick a reaction' });
      for (const emoji of PALETTE) {
        palette.append(el('button', {
          type: 'button',
          class: 'secondary',
          'data-emoji': emoji,
          onclick: () => {
            palette.remove();
            button.setAttribute('aria-expanded', 'false');
            const r = (m.reactions || []).find((x) => x.emoji === emoji);
            react(m, emoji, !(r && mine(r)));
          },
        }, emoji));
      }
      li.append(palette);
      palette.querySelector('button').focus();
    },
  }, 'React', el('span', { class: 'visually-hidden', text: ' to this message' }));
}

/** A `reaction` frame: change the stored message, and show it. */
export function reactionFrame(f) {
  const m = store(f.conversation_id).get(f.message_id);
  if (!m) return;
  const reactions = (m.reactions || []).map((r) => ({ ...r, users: [...r.users] }));
  let r = reactions.find((x) => x.emoji === f.emoji);
  const had = r ? r.users.some((u) => u.user_id === f.user_id) : false;
  if (f.added && !had) {
    if (!r) {
      r = { emoji: f.emoji, count: 0, users: [] };
      reactions.push(r);
    }
    r.users.push({ user_id: f.user_id, username: f.username });
  } else if (!f.added && had) {
    r.users = r.users.filter((u) => u.user_id !== f.user_id);
  } else {
    return;
  }
  for (const x of reactions) x.count = x.users.length;
  applyMessage({ ...m, reactions: reactions.filter((x) => x.count > 0) });
}

// ---------- replying ----------

/** Start a reply to `m` from the composer. */
export function replyTo(m) {
  state.replyTo = { id: m.message_id, conversation: m.conversation_id };
  const bar = $('reply-bar');
  bar.replaceChildren(
    el('span', { class: 'reply-label' }, 'Replying to ', el('strong', { text: senderName(m) }), ': ',
      el('span', { class: 'reply-text', text: snippet(m.message) })),
    el('button', { type: 'button', class: 'secondary', onclick: cancelReply }, 'Cancel',
      el('span', { class: 'visually-hidden', text: ' the reply' })));
  bar.hidden = false;
  $('message-input').focus();
}

export function cancelReply() {
  state.replyTo = null;
  const bar = $('reply-bar');
  bar.hidden = true;
  bar.replaceChildren();
}

/** The message the next send answers, if it is in `conversation`; then forgotten. */
export function takeReply(conversation) {
  const r = state.replyTo;
  cancelReply();
  return r && r.conversation === conversation ? r.id : undefined;
}
