// One message as the page shows it: who and when (once per run of one
// sender's messages), its text (formatted by markdown.js), its attachment,
// and editing it in place.

import { api, explain } from './api.js';
import { applyMessage, isDirect, scrollToEnd } from './conversation.js';
import { $, IMAGE_TYPES, el, fullDate, humanSize, isTouch, timeOf } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { markMentions, mentionsMe } from './notify.js';
import { reactButton, reactionChips, replyQuote, replyTo } from './reactions.js';
import { senderName } from './people.js';
import { state } from './state.js';

export function messageItem(m, { cont = false } = {}) {
  const mine = m.sender_id === state.me.user_id;
  const li = el('li', {
    class: 'message' + (mine ? ' mine' : '') + (m.deleted ? ' deleted' : '') + (cont ? ' cont' : ''),
    'data-id': m.message_id,
  });
  const meta = el('div', { class: 'meta' },
    el('span', { class: 'sender', text: mine ? 'You' : senderName(m) }),
    el('time', { datetime: m.timestamp, title: fullDate(m.timestamp), text: timeOf(m.timestamp) }));
  if (m.edited) meta.append(el('span', { class: 'state', text: 'edited' }));
  if (m.incomplete) meta.append(el('span', { class: 'state', text: 'incomplete' }));
  if (mine && !m.deleted && isDirect(m.conversation_id)) {
    meta.append(el('span', { class: 'state seen-mark', text: m.seen ? '✓✓ seen' : '✓ sent' }));
  }
  li.append(meta);
  const quote = m.deleted ? null : replyQuote(m);
  if (quote) li.append(quote);
  // The text as Markdown, built as DOM nodes (markdown.js); editing works on the raw text.
  // Mentions are marked in the rendered text (notify.js), yours stronger.
  li.append(m.deleted ? el('div', { class: 'text', text: 'message deleted' }) : markMentions(el('div', { class: 'text' }, renderMarkdown(m.message)), m));
  if (!m.deleted && mentionsMe(m)) li.classList.add('mentions-me');
  if (m.attachment && !m.deleted) li.append(attachmentView(m.attachment));
  const chips = reactionChips(m);
  if (chips) li.append(chips);
  // An admin may delete anyone's message in a room (moderation); a direct
  // conversation is its two people's own.
  const moderate = !mine && state.me.role === 'admin' && !isDirect(m.conversation_id);
  // Replies and reactions for every message but the agent's conversations'
  // (where replies link the agent's answers) and deleted ones.
  const conv = state.conversations.get(m.conversation_id);
  const ai = conv && conv.kind === 'ai';
  if (!m.deleted) {
    li.append(el('div', { class: 'actions' },
      ai ? null : el('button', { type: 'button', class: 'secondary reply', onclick: () => replyTo(m) }, 'Reply',
        el('span', { class: 'visually-hidden', text: ' to this message' })),
      reactButton(li, m),
      mine ? el('button', { type: 'button', class: 'secondary edit', onclick: () => editMessage(li, m) }, 'Edit',
        el('span', { class: 'visually-hidden', text: ' message' })) : null,
      mine || moderate ? el('button', { type: 'button', class: 'secondary delete', onclick: (e) => deleteMessage(e.currentTarget, m, mine) }, 'Delete',
        el('span', { class: 'visually-hidden', text: ' message' })) : null));
  }
  return li;
}

async function fileUrl(file) {
  if (state.blobs.has(file.file_id)) return state.blobs.get(file.file_id);
  const res = await fetch('/api/files/' + file.file_id, { headers: { authorization: 'Bearer ' + state.access } });
  if (!res.ok) throw new Error('cannot load ' + file.name);
  // Only images keep their type; anything else (HTML, say) is a plain
  // download and never renders as a page on natter's origin.
  const bytes = await res.arrayBuffer();
  const type = IMAGE_TYPES.includes(file.content_type) ? file.content_type : 'application/octet-stream';
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  state.blobs.set(file.file_id, url);
  return url;
}

function attachmentView(file) {
  const box = el('div', { class: 'attachment' });
  const link = el('a', { href: '#', download: file.name, text: file.name + ' (' + humanSize(file.size) + ')' });
  link.addEventListener('click', async (e) => {
    if (link.dataset.ready) return;
    e.preventDefault();
    try {
      link.href = await fileUrl(file);
      link.dataset.ready = '1';
      link.click();
    } catch (err) {
      link.textContent = err.message;
    }
  });
  box.append(el('span', { class: 'file-tag', text: 'File: ' }), link);
  if (IMAGE_TYPES.includes(file.content_type)) {
    const img = el('img', { class: 'preview', alt: file.name });
    const open = el('button', { type: 'button', class: 'image-button', 'aria-label': 'Show ' + file.name + ' larger' }, img);
    open.addEventListener('click', () => showImage(img.src, file.name));
    // The image is taller than its placeholder: keep the newest message in view.
    img.addEventListener('load', () => { if (state.stick) scrollToEnd(); });
    fileUrl(file).then((url) => { img.src = url; }).catch(() => open.remove());
    box.append(open);
  }
  return box;
}

/** The lightbox: an image at full size, closed with Close, Escape or a click outside. */
function showImage(src, name) {
  if (!src) return;
  const box = $('lightbox');
  $('lightbox-image').src = src;
  $('lightbox-image').alt = name;
  $('lightbox-download').href = src;
  $('lightbox-download').download = name;
  box.showModal();
  $('lightbox-close').focus();
}

export function wireLightbox() {
  const box = $('lightbox');
  $('lightbox-close').addEventListener('click', () => box.close());
  box.addEventListener('click', (e) => { if (e.target === box) box.close(); });
}

/** Edit in place: a text area that keeps line breaks, with Save and Cancel. */
function editMessage(li, m) {
  if (li.querySelector('.edit-form')) return;
  const id = 'edit-' + m.message_id;
  const input = el('textarea', { id, class: 'edit-input', rows: String(Math.min(8, m.message.split('\n').length + 1)) });
  input.value = m.message;
  const error = el('p', { class: 'error', role: 'alert' });
  const done = (updated) => {
    const item = messageItem(updated, { cont: li.classList.contains('cont') });
    li.replaceWith(item);
    item.querySelector('button.edit')?.focus();
  };
  const save = async () => {
    if (input.value === m.message) {
      done(m); // Nothing changed: nothing to send, nothing marked edited.
      return;
    }
    if (!input.value.trim()) {
      error.textContent = 'A message cannot be empty; delete it instead.';
      return;
    }
    try {
      const updated = await api('PATCH', '/api/messages/' + m.message_id, { message: input.value });
      applyMessage(updated);
      const item = document.querySelector('#messages li[data-id="' + m.message_id + '"]');
      item?.querySelector('button.edit')?.focus();
    } catch (err) {
      error.textContent = explain(err);
    }
  };
  const form = el('form', { class: 'edit-form' },
    el('label', { for: id, class: 'visually-hidden', text: 'Edit message' }),
    input,
    el('div', { class: 'row end' },
      el('button', { type: 'button', class: 'secondary cancel', onclick: () => done(m) }, 'Cancel'),
      el('button', { type: 'submit', class: 'save' }, 'Save')),
    error);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    save();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') done(m);
    // As in the composer: Enter saves on a keyboard, Shift+Enter (and Enter on touch) is a new line.
    else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !isTouch()) {
      e.preventDefault();
      save();
    }
  });
  li.querySelector('.actions')?.remove();
  li.append(form);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

async function deleteMessage(button, m, mine) {
  if (!button.dataset.confirm) {
    button.dataset.confirm = '1';
    button.firstChild.textContent = 'Confirm delete';
    setTimeout(() => {
      if (button.isConnected) {
        delete button.dataset.confirm;
        button.firstChild.textContent = 'Delete';
      }
    }, 4000);
    return;
  }
  try {
    await api('DELETE', (mine ? '/api/messages/' : '/api/admin/messages/') + m.message_id);
    applyMessage({ ...m, deleted: true, message: '', attachment: null });
  } catch (err) {
    $('composer-error').textContent = explain(err);
  }
}
