// Writing and sending: pending messages, retries, sends that wait for the
// connection to come back, and attachments (chosen, dropped or pasted,
// previewed before they are sent).

import { ApiError, api, explain, tokenExpired } from './api.js';
import { applyMessage, scrollToEnd } from './conversation.js';
import { $, IMAGE_TYPES, clientId, el, humanSize, isTouch } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { cancelReply, takeReply } from './reactions.js';
import { bumpConversation } from './sidebar.js';
import { state } from './state.js';

function pendingItem(text, file) {
  const li = el('li', { class: 'message mine pending' },
    el('div', { class: 'meta' }, el('span', { class: 'sender', text: 'You' }), el('span', { class: 'state', text: 'sending…' })),
    el('div', { class: 'text' }, renderMarkdown(text)));
  if (file) li.append(el('div', { class: 'attachment', text: 'File: ' + file.name }));
  return li;
}

export function failPending(cid, reason) {
  const p = state.pending.get(cid);
  if (!p) return;
  p.li.classList.remove('pending', 'waiting');
  p.li.classList.add('failed');
  p.li.querySelector('.state').textContent = 'not sent: ' + reason;
  if (!p.li.querySelector('.retry')) {
    p.li.append(el('div', { class: 'actions' }, el('button', {
      type: 'button',
      class: 'secondary retry',
      onclick: () => {
        state.pending.delete(cid);
        p.li.remove();
        deliver(p.conversation, p.text, p.attachment, p.replyTo);
      },
    }, 'Retry')));
  }
}

/** The connection is down: this message goes out when it is back. */
function waitForConnection(cid) {
  const p = state.pending.get(cid);
  if (!p) return;
  p.waiting = true;
  p.li.classList.add('waiting');
  p.li.querySelector('.state').textContent = 'waiting for the connection…';
}

/** The connection is back: send what waited for it. */
export function sendWaiting() {
  for (const [cid, p] of state.pending) {
    if (!p.waiting) continue;
    state.pending.delete(cid);
    p.li.remove();
    deliver(p.conversation, p.text, p.attachment, p.replyTo);
  }
}

export function deliver(conversation, text, attachment, replyTo) {
  const cid = clientId();
  const li = pendingItem(text, attachment);
  state.pending.set(cid, { conversation, text, li, attachment, replyTo, sentOn: null });
  if (state.current === conversation) {
    $('messages').append(li);
    scrollToEnd();
  }
  const frame = { action: 'send', conversation_id: conversation, message: text, client_id: cid };
  if (attachment) frame.attachment_id = attachment.file_id;
  if (replyTo) frame.reply_to = replyTo;
  // A socket whose token has run out would be closed by the server on this
  // frame; HTTP refreshes the token first.
  if (state.wsOpen && !tokenExpired()) {
    state.pending.get(cid).sentOn = state.ws;
    state.ws.send(JSON.stringify(frame));
  } else {
    // No socket right now: send over HTTP; it answers only after the commit.
    api('POST', '/api/messages/', { conversation_id: conversation, message: text, attachment_id: attachment ? attachment.file_id : undefined, reply_to: replyTo })
      .then((m) => confirmPending(cid, m))
      .catch((e) => (e instanceof ApiError ? failPending(cid, e.message) : waitForConnection(cid)));
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

export async function sendFromComposer(event) {
  event.preventDefault();
  const input = $('message-input');
  const text = input.value;
  const id = state.current;
  const file = state.attachment;
  if (!id || (!text.trim() && !file)) return;
  $('composer-error').textContent = '';
  let meta = null;
  if (file) {
    const chip = $('attachment-preview');
    chip.classList.add('uploading');
    try {
      meta = await api('POST', '/api/files?name=' + encodeURIComponent(file.name), file);
    } catch (e) {
      chip.classList.remove('uploading');
      $('composer-error').textContent = 'Upload failed: ' + explain(e);
      return;
    }
    clearAttachment();
  }
  input.value = '';
  autoGrow();
  deliver(id, text, meta, takeReply(id));
}

// ---------- attachments ----------

function uploadLimit() {
  return (state.server && state.server.limits && state.server.limits.max_upload_bytes) || 0;
}

/** Hold `file` for the next message and show it, or say why it cannot go. */
export function chooseFile(file) {
  if (!file) return;
  const limit = uploadLimit();
  if (limit && file.size > limit) {
    $('composer-error').textContent = file.name + ' is ' + humanSize(file.size) + '; files can be at most ' + humanSize(limit) + '.';
    return;
  }
  $('composer-error').textContent = '';
  state.attachment = file;
  const chip = $('attachment-preview');
  chip.replaceChildren();
  if (IMAGE_TYPES.includes(file.type)) {
    const url = URL.createObjectURL(file);
    chip.append(el('img', { class: 'thumb', src: url, alt: '' }));
  }
  chip.append(
    el('span', { class: 'name', text: file.name + ' (' + humanSize(file.size) + ')' }),
    el('button', { type: 'button', class: 'secondary remove', onclick: () => { clearAttachment(); $('message-input').focus(); } },
      'Remove', el('span', { class: 'visually-hidden', text: ' attachment' })));
  chip.hidden = false;
  $('message-input').focus();
}

function clearAttachment() {
  state.attachment = null;
  const chip = $('attachment-preview');
  for (const img of chip.querySelectorAll('img')) URL.revokeObjectURL(img.src);
  chip.replaceChildren();
  chip.classList.remove('uploading');
  chip.hidden = true;
}

export function attachFile() {
  const input = $('file-input');
  const file = input.files[0];
  input.value = '';
  chooseFile(file);
}

/** Files dropped on the conversation, or pasted into the message box. */
export function wireDropAndPaste() {
  const target = $('conversation');
  target.addEventListener('dragover', (e) => {
    if (!state.connected || ![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    target.classList.add('dropping');
  });
  target.addEventListener('dragleave', (e) => {
    if (e.target === target) target.classList.remove('dropping');
  });
  target.addEventListener('drop', (e) => {
    target.classList.remove('dropping');
    if (!state.connected || !e.dataTransfer.files.length) return;
    e.preventDefault();
    chooseFile(e.dataTransfer.files[0]);
  });
  $('message-input').addEventListener('paste', (e) => {
    const file = [...(e.clipboardData ? e.clipboardData.files : [])][0];
    if (file) {
      e.preventDefault();
      chooseFile(file);
    }
  });
}

/** A new conversation: an empty composer. */
export function resetComposer() {
  clearAttachment();
  cancelReply();
  $('composer-error').textContent = '';
}

/** What the server told us of itself: the AI agent, the upload limit. */
export function applyServerInfo() {
  const agent = state.server && state.server.ai_agent;
  $('ai-chat').hidden = !agent;
  if (agent) $('ai-chat-button').textContent = 'Chat with ' + (agent.name || agent.username);
  const limit = uploadLimit();
  if (limit) {
    const words = ' a file (up to ' + humanSize(limit) + ')';
    $('file-label').title = 'Attach a file (up to ' + humanSize(limit) + ')';
    $('file-label').querySelector('.visually-hidden').textContent = words;
  }
  $('message-input').placeholder = isTouch() ? 'Write a message' : 'Write a message (Enter sends, Shift+Enter for a new line)';
}

export function autoGrow() {
  const t = $('message-input');
  t.style.height = 'auto';
  const h = Math.min(t.scrollHeight + 2, 128);
  t.style.height = h + 'px';
  t.style.overflowY = h >= 128 ? 'auto' : 'hidden';
}

export function composerKey(e) {
  // On a keyboard Enter sends; on a touch screen it is a new line and Send sends.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !isTouch()) {
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
