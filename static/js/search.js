// Finding messages: the search dialog, its results with the matches marked,
// "Load more", and opening a result in its conversation. The server sends
// each snippet as pieces of plain text; the matches go into <mark> elements
// made here, and every piece in as text, never as HTML.

import { api, explain } from './api.js';
import { jumpTo } from './conversation.js';
import { $, dayLabel, el, fullDate, timeOf } from './dom.js';
import { senderName, titleOf } from './people.js';
import { state } from './state.js';

/** Results asked for at once. */
const RESULTS = 20;
/** How long typing pauses before the search runs. */
const TYPING_PAUSE_MS = 300;

let cursor = null; // where the next page starts, or null
let shown = 0; // results in the list
let asked = 0; // counts searches: an answer to an older one is dropped
let timer = null;

export function openSearch() {
  const scope = $('search-scope');
  const current = scope.querySelector('option[value="current"]');
  current.disabled = !state.current;
  if (!state.current) scope.value = 'all';
  $('search-error').textContent = '';
  $('search-dialog').showModal();
  $('message-search').focus();
  $('message-search').select();
}

function clear(status) {
  asked += 1;
  cursor = null;
  shown = 0;
  $('message-results').replaceChildren();
  $('search-more').hidden = true;
  $('search-status').textContent = status;
}

async function run(more) {
  const q = $('message-search').value.trim();
  $('search-error').textContent = '';
  if (!q) {
    clear('');
    return;
  }
  if (!more) clear('Searching…');
  const n = ++asked;
  const params = new URLSearchParams({ q, limit: String(RESULTS) });
  if ($('search-scope').value === 'current' && state.current) params.set('conversation_id', state.current);
  if (more && cursor) params.set('cursor', cursor);
  $('search-more').disabled = true;
  try {
    const page = await api('GET', '/api/search?' + params);
    if (n !== asked) return;
    const list = $('message-results');
    for (const r of page.results) list.append(resultItem(r));
    shown += page.results.length;
    cursor = page.next_cursor;
    $('search-more').hidden = !cursor;
    $('search-status').textContent = shown === 0
      ? 'No messages found.'
      : shown + (shown === 1 ? ' message' : ' messages') + (cursor ? ' so far, newest first.' : ', newest first.');
  } catch (e) {
    if (n !== asked) return;
    $('search-status').textContent = '';
    $('search-error').textContent = explain(e);
  } finally {
    $('search-more').disabled = false;
  }
}

function resultItem(r) {
  const m = r.message;
  const conv = state.conversations.get(m.conversation_id);
  const where = conv ? (conv.kind === 'room' ? '# ' : '') + titleOf(conv) : 'Conversation';
  const mine = m.sender_id === state.me.user_id;
  const snippet = el('span', { class: 'snippet' });
  for (const part of r.snippet) {
    snippet.append(part.match ? el('mark', { text: part.text }) : document.createTextNode(part.text));
  }
  const button = el('button', { type: 'button', class: 'result', 'data-id': m.message_id, onclick: () => open(m) },
    el('span', { class: 'where' },
      el('span', { class: 'conv', text: where }),
      el('span', { class: 'sender', text: mine ? 'You' : senderName(m) }),
      el('time', { datetime: m.timestamp, title: fullDate(m.timestamp), text: dayLabel(m.timestamp) + ', ' + timeOf(m.timestamp) })),
    snippet);
  return el('li', {}, button);
}

function open(m) {
  $('search-dialog').close();
  jumpTo(m.conversation_id, m.message_id).catch((e) => { $('composer-error').textContent = explain(e); });
}

export function wireSearch() {
  $('search-button').addEventListener('click', openSearch);
  $('message-search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    run(false);
  });
  $('message-search').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(false), TYPING_PAUSE_MS);
  });
  $('search-scope').addEventListener('change', () => run(false));
  $('search-more').addEventListener('click', () => run(true));
  $('search-close').addEventListener('click', () => $('search-dialog').close());
}
