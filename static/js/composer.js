// Writing and sending: pending messages, retries, attachments.

import { api, tokenExpired } from './api.js';
import { applyMessage, noteId, scrollToEnd } from './conversation.js';
import { $, clientId, el } from './dom.js';
import { bumpConversation } from './sidebar.js';
import { state } from './state.js';

function pendingItem(text, file) {
  const li = el('li', { class: 'message mine pending' },
    el('div', { class: 'meta' }, el('span', { class: 'sender', text: 'You' }), el('span', { class: 'state', text: 'sending…' })),
    el('div', { class: 'text', text }));
  if (file) li.append(el('div', { class: 'attachment', text: 'File: ' + file.name }));
  return li;
}

export function failPending(cid, reason) {
  const p = state.pending.get(cid);
  if (!p) return;
  p.li.classList.remove('pending');
  p.li.classList.add('failed');
  p.li.querySelector('.state').textContent = 'not sent: ' + reason;
  if (!p.li.querySelector('.retry')) {
    p.li.append(el('div', { class: 'actions' }, el('button', {
      type: 'button',
      class: 'secondary retry',
      onclick: () => {
        state.pending.delete(cid);
        p.li.remove();
        deliver(p.conversation, p.text, p.attachment);
      },
    }, 'Retry')));
  }
}

export function deliver(conversation, text, attachment) {
  const cid = clientId();
  const li = pendingItem(text, attachment);
  state.pending.set(cid, { conversation, text, li, attachment, sentOn: null });
  if (state.current === conversation) {
    $('messages').append(li);
    scrollToEnd();
  }
  const frame = { action: 'send', conversation_id: conversation, message: text, client_id: cid };
  if (attachment) frame.attachment_id = attachment.file_id;
  // A socket whose token has run out would be closed by the server on this
  // frame; HTTP refreshes the token first.
  if (state.wsOpen && !tokenExpired()) {
    state.pending.get(cid).sentOn = state.ws;
    state.ws.send(JSON.stringify(frame));
  } else {
    // No socket right now: send over HTTP; it answers only after the commit.
    api('POST', '/api/messages/', { conversation_id: conversation, message: text, attachment_id: attachment ? attachment.file_id : undefined })
      .then((m) => confirmPending(cid, m))
      .catch((e) => failPending(cid, e.message));
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
  if (!id || !text.trim()) return;
  input.value = '';
  autoGrow();
  $('composer-error').textContent = '';
  deliver(id, text, null);
}

export async function attachFile() {
  const input = $('file-input');
  const file = input.files[0];
  input.value = '';
  const id = state.current;
  if (!file || !id) return;
  const error = $('composer-error');
  error.textContent = 'Uploading ' + file.name + '…';
  try {
    const meta = await api('POST', '/api/files?name=' + encodeURIComponent(file.name), file);
    error.textContent = '';
    const text = $('message-input').value;
    $('message-input').value = '';
    deliver(id, text, meta);
  } catch (e) {
    error.textContent = 'Upload failed: ' + e.message;
  }
}

export function autoGrow() {
  const t = $('message-input');
  t.style.height = 'auto';
  const h = Math.min(t.scrollHeight + 2, 128);
  t.style.height = h + 'px';
  t.style.overflowY = h >= 128 ? 'auto' : 'hidden';
}

export function composerKey(e) {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
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
