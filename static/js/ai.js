// The AI agent's replies as they are written: "thinking…", then the text
// so far, until the stored reply replaces it; and its failures, said in
// the conversation.

import { scrollToEnd } from './conversation.js';
import { $, el } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { state } from './state.js';

function agentName() {
  const agent = state.server && state.server.ai_agent;
  return agent ? agent.name || agent.username : 'The assistant';
}

function visible(conversation) {
  return state.current === conversation && state.connected && state.loaded.has(conversation);
}

export function showDraft(f) {
  let d = state.drafts.get(f.reply_id);
  if (!d) {
    const li = el('li', { class: 'message draft', 'data-reply': f.reply_id, 'aria-busy': 'true' },
      el('div', { class: 'meta' },
        el('span', { class: 'sender', text: agentName() }),
        el('span', { class: 'state', text: 'thinking…' })),
      el('div', { class: 'text' }));
    d = { conversation: f.conversation_id, li };
    state.drafts.set(f.reply_id, d);
    if (visible(f.conversation_id)) {
      const list = $('messages');
      list.insertBefore(li, list.querySelector('li.pending, li.failed'));
    }
  }
  d.li.querySelector('.text').replaceChildren(renderMarkdown(f.text));
  d.li.querySelector('.state').textContent = f.state === 'thinking' ? 'thinking…' : 'writing…';
  if (visible(f.conversation_id) && state.stick) scrollToEnd();
}

export function dropDraft(replyId) {
  const d = state.drafts.get(replyId);
  if (!d) return;
  state.drafts.delete(replyId);
  d.li.remove();
}

export function agentFailed(f) {
  dropDraft(f.reply_id);
  if (!visible(f.conversation_id)) return;
  $('messages').append(el('li', { class: 'message notice', role: 'status' },
    el('div', { class: 'text', text: agentName() + ' could not answer: ' + f.message })));
  if (state.stick) scrollToEnd();
}
