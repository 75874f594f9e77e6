// Mentions and notifications: the mentions in a message marked, the
// "Mentions" list, each conversation's notify level (all, mentions,
// nothing) and the counts that follow it, and a system notification for a
// message the user would want to hear of while they look elsewhere (the
// browser's permission is asked for by push.js, with Web Push).
//
// Which messages count is the server's rule, mirrored here for what
// arrives live: a level of `all` hears every message from others,
// `mentions` those that mention you (in a direct conversation every
// message), `nothing` none. The server parses mentions; the page only
// marks the ones it names, found in the text as rendered, never as HTML.

import { api, explain } from './api.js';
import { jumpTo, select } from './conversation.js';
import { $, dayLabel, el, fullDate, timeOf } from './dom.js';
import { senderName, titleOf } from './people.js';
import { activeRegistration, registration } from './push.js';
import { renderSidebar } from './sidebar.js';
import { state } from './state.js';

// Short, for a phone's header; the picker's label says what they are.
const LEVELS = { all: 'All', mentions: 'Mentions', nothing: 'Muted' };
/** Mentions asked for at once. */
const PAGE = 20;
/** The longest text a notification shows. */
const BODY_CHARS = 200;

export function mentionsMe(m) {
  return !!state.me && (m.mentions || []).some((u) => u.user_id === state.me.user_id);
}

/** Whether the user hears of message `m` (from someone else) in `conv`. */
export function heard(conv, m) {
  const level = conv.notify || 'all';
  if (level === 'nothing') return false;
  if (level === 'all') return true;
  return conv.kind !== 'room' || mentionsMe(m);
}

/** A message from someone else arrived unread: count it as the server would. */
export function countUnread(conv, m) {
  conv.unread_total = (conv.unread_total || 0) + 1;
  if (mentionsMe(m)) conv.unread_mentions = (conv.unread_mentions || 0) + 1;
  if (heard(conv, m)) conv.unread_count = (conv.unread_count || 0) + 1;
}

export function clearUnread(conv) {
  conv.unread_count = 0;
  conv.unread_total = 0;
  conv.unread_mentions = 0;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Mark the mentions of message `m` in `node` (its rendered text): each
 * `@name` it names becomes a <span class="mention">, yours also `.me`.
 * Text in code and links is left as it is (the server does not count code).
 */
export function markMentions(node, m) {
  const names = (m.mentions || []).map((u) => u.username);
  if (!names.length) return node;
  names.sort((a, b) => b.length - a.length);
  // Like the server: not inside a word or an address, not running on into one.
  const re = new RegExp('(?<![\\p{L}\\p{N}_.\\-@+])@(' + names.map(escape).join('|') + ')(?![\\p{L}\\p{N}_])', 'giu');
  const mine = state.me ? state.me.username.toLowerCase() : null;
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT, {
    acceptNode: (t) => (t.parentElement.closest('code, pre, a') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const t of texts) {
    const s = t.data;
    re.lastIndex = 0;
    let at = 0;
    let hit;
    const parts = [];
    while ((hit = re.exec(s))) {
      if (hit.index > at) parts.push(document.createTextNode(s.slice(at, hit.index)));
      const me = hit[1].toLowerCase() === mine;
      parts.push(el('span', { class: 'mention' + (me ? ' me' : ''), text: hit[0] }));
      at = hit.index + hit[0].length;
    }
    if (!parts.length) continue;
    if (at < s.length) parts.push(document.createTextNode(s.slice(at)));
    t.replaceWith(...parts);
  }
  return node;
}

// ----- the notify level of the open conversation -----

/** The header's level picker shows the open conversation's level. */
export function renderLevel() {
  const conv = state.conversations.get(state.current);
  const pick = $('notify-level');
  if (!conv) return;
  pick.value = conv.notify || 'all';
}

async function changeLevel() {
  const id = state.current;
  const conv = state.conversations.get(id);
  const pick = $('notify-level');
  if (!conv) return;
  try {
    const r = await api('PUT', '/api/conversations/' + id + '/notify', { level: pick.value });
    levelChanged(id, r.level);
  } catch (e) {
    // The picker shows the open conversation's level (maybe another one by now).
    renderLevel();
    $('composer-error').textContent = explain(e);
  }
}

/** The level of `id` is now `level` (set here, or in another tab: a `notify_level` frame). */
export function levelChanged(id, level) {
  const conv = state.conversations.get(id);
  if (!conv) return;
  conv.notify = level;
  // The count the badge shows follows the level; the total and mentions stay.
  if (level === 'nothing') conv.unread_count = 0;
  else if (level === 'all' || conv.kind !== 'room') conv.unread_count = conv.unread_total || 0;
  else conv.unread_count = conv.unread_mentions || 0;
  if (state.current === id) renderLevel();
  renderSidebar();
}

// ----- "Mentions": the messages that mention you -----

let before = null; // the next page's cursor, or null
let shownMentions = 0;
let asked = 0;

async function loadMentions(more) {
  const n = ++asked;
  const list = $('mention-results');
  if (!more) {
    before = null;
    shownMentions = 0;
    list.replaceChildren();
    $('mentions-status').textContent = 'Loading…';
  }
  $('mentions-error').textContent = '';
  $('mentions-more').disabled = true;
  try {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (more && before) params.set('before', String(before));
    const page = await api('GET', '/api/mentions?' + params);
    if (n !== asked) return;
    for (const m of page.messages) list.append(mentionItem(m));
    shownMentions += page.messages.length;
    before = page.next_before || null;
    $('mentions-more').hidden = !before;
    $('mentions-status').textContent = shownMentions === 0
      ? 'Nobody has mentioned you yet.'
      : shownMentions + (shownMentions === 1 ? ' message' : ' messages') + ', newest first.';
  } catch (e) {
    if (n !== asked) return;
    $('mentions-status').textContent = '';
    $('mentions-error').textContent = explain(e);
  } finally {
    $('mentions-more').disabled = false;
  }
}

function mentionItem(m) {
  const conv = state.conversations.get(m.conversation_id);
  const where = conv ? (conv.kind === 'room' ? '# ' : '') + titleOf(conv) : 'Conversation';
  const text = markMentions(el('span', { class: 'snippet', text: m.message }), m);
  const button = el('button', {
    type: 'button',
    class: 'result',
    'data-id': m.message_id,
    onclick: () => {
      $('mentions-dialog').close();
      jumpTo(m.conversation_id, m.message_id).catch((e) => { $('composer-error').textContent = explain(e); });
    },
  },
  el('span', { class: 'where' },
    el('span', { class: 'conv', text: where }),
    el('span', { class: 'sender', text: senderName(m) }),
    el('time', { datetime: m.timestamp, title: fullDate(m.timestamp), text: dayLabel(m.timestamp) + ', ' + timeOf(m.timestamp) })),
  text);
  return el('li', {}, button);
}

function openMentions() {
  $('mentions-dialog').showModal();
  loadMentions(false);
}

/** The unread mentions everywhere, on the Mentions button. */
export function renderMentionCount() {
  let n = 0;
  for (const c of state.conversations.values()) n += c.unread_mentions || 0;
  const badge = $('mentions-unread');
  badge.textContent = n ? String(n) : '';
  badge.setAttribute('aria-label', n ? n + ' unread' : '');
}

// ----- system notifications -----

function bodyOf(m) {
  const text = m.message || (m.attachment ? 'sent ' + m.attachment.name : '');
  return text.length > BODY_CHARS ? text.slice(0, BODY_CHARS - 1) + '…' : text;
}

/**
 * A live message arrived: tell the user with a system notification if
 * their level wants it and they are not looking at its conversation.
 * Shown through the service worker where there is one (phones allow no
 * other way), one per conversation (the newest replaces the last).
 */
export function notifyOf(m) {
  if (!state.live || !state.me || m.sender_id === state.me.user_id) return;
  const conv = state.conversations.get(m.conversation_id);
  if (!conv || !heard(conv, m)) return;
  const looking = !document.hidden && document.hasFocus() && state.current === m.conversation_id;
  if (looking || !('Notification' in window) || Notification.permission !== 'granted') return;
  const title = conv.kind === 'room' ? senderName(m) + ' in # ' + titleOf(conv) : senderName(m);
  const options = {
    body: bodyOf(m),
    tag: m.conversation_id,
    icon: '/static/icons/icon-192.png',
    data: { conversation_id: m.conversation_id, message_id: m.message_id },
  };
  const fallback = () => {
    try {
      const n = new Notification(title, options);
      n.onclick = () => {
        window.focus();
        select(m.conversation_id);
        n.close();
      };
    } catch (e) {
      // No way to show one here (a phone without a service worker).
    }
  };
  viaWorker(title, options).catch(fallback);
}

/**
 * Show it through the registered worker, even one still installing (the
 * first visit: it caches the offline shell before it controls the page);
 * throws, for the fallback, when there is none or it is not active in 5 s.
 */
async function viaWorker(title, options) {
  const reg = await registration();
  if (!reg) throw new Error('no service worker');
  const active = reg.active ? reg : await activeRegistration();
  if (!active) throw new Error('the service worker is not active');
  await active.showNotification(title, options);
}

export function wireNotify() {
  $('notify-level').addEventListener('change', changeLevel);
  $('mentions-button').addEventListener('click', openMentions);
  $('mentions-more').addEventListener('click', () => loadMentions(true));
  $('mentions-close').addEventListener('click', () => $('mentions-dialog').close());
  for (const [value, label] of Object.entries(LEVELS)) {
    $('notify-level').append(el('option', { value, text: label }));
  }
}
