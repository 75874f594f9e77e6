// One message as the page shows it: text, attachment, edit and delete.

import { api } from './api.js';
import { applyMessage, isDirect, scrollToEnd } from './conversation.js';
import { $, IMAGE_TYPES, el, timeOf } from './dom.js';
import { state } from './state.js';

export function messageItem(m) {
  const mine = m.sender_id === state.me.user_id;
  const li = el('li', {
    class: 'message' + (mine ? ' mine' : '') + (m.deleted ? ' deleted' : ''),
    'data-id': m.message_id,
  });
  const meta = el('div', { class: 'meta' },
    el('span', { class: 'sender', text: mine ? 'You' : m.sender_username }),
    el('time', { datetime: m.timestamp, text: timeOf(m.timestamp) }));
  if (m.edited) meta.append(el('span', { text: 'edited' }));
  if (m.incomplete) meta.append(el('span', { class: 'state', text: 'incomplete' }));
  if (mine && !m.deleted && isDirect(m.conversation_id)) {
    meta.append(el('span', { class: 'state seen-mark', text: m.seen ? '✓✓ seen' : '✓ sent' }));
  }
  li.append(meta);
  li.append(el('div', { class: 'text', text: m.deleted ? 'message deleted' : m.message }));
  if (m.attachment && !m.deleted) li.append(attachmentView(m.attachment));
  if (mine && !m.deleted) {
    li.append(el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary edit', onclick: () => editMessage(li, m) }, 'Edit',
        el('span', { class: 'visually-hidden', text: ' message' })),
      el('button', { type: 'button', class: 'secondary delete', onclick: (e) => deleteMessage(e.currentTarget, m) }, 'Delete',
        el('span', { class: 'visually-hidden', text: ' message' }))));
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
  const link = el('a', { href: '#', download: file.name, text: file.name + ' (' + Math.ceil(file.size / 1024) + ' KB)' });
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
    // The image is taller than its placeholder: keep the newest message in view.
    img.addEventListener('load', () => { if (state.stick) scrollToEnd(); });
    fileUrl(file).then((url) => { img.src = url; }).catch(() => img.remove());
    box.append(img);
  }
  return box;
}

function editMessage(li, m) {
  if (li.querySelector('.edit-input')) return;
  const id = 'edit-' + m.message_id;
  const input = el('input', { id, class: 'edit-input', value: m.message });
  const label = el('label', { for: id, class: 'visually-hidden', text: 'Edit message' });
  const form = el('form', {}, label, input);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const updated = await api('PATCH', '/api/messages/' + m.message_id, { message: input.value });
      applyMessage(updated);
    } catch (err) {
      $('composer-error').textContent = err.message;
    }
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') li.replaceWith(messageItem(m));
  });
  li.append(form);
  input.focus();
}

async function deleteMessage(button, m) {
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
    await api('DELETE', '/api/messages/' + m.message_id);
    applyMessage({ ...m, deleted: true, message: '', attachment: null });
  } catch (err) {
    $('composer-error').textContent = err.message;
  }
}
