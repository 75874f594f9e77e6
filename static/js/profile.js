// The profile dialog: display name, picture, password, and a download of
// everything natter keeps about you.

import { api, apiBlob, explain } from './api.js';
import { $, IMAGE_TYPES, humanSize, saveBlob } from './dom.js';
import { displayName } from './people.js';
import { state } from './state.js';

let picture = null; // undefined: unchanged; '' : remove; a File: upload

async function showAvatar(url) {
  const img = $('profile-avatar');
  if (!url || !url.startsWith('/api/files/')) {
    img.hidden = true;
    return;
  }
  try {
    const res = await fetch(url, { headers: { authorization: 'Bearer ' + state.access } });
    if (!res.ok) throw new Error();
    img.src = URL.createObjectURL(await res.blob());
    img.hidden = false;
  } catch (e) {
    img.hidden = true;
  }
}

export function openProfile() {
  picture = undefined;
  $('profile-name').value = state.me.name || '';
  $('profile-old-password').value = '';
  $('profile-new-password').value = '';
  $('profile-error').textContent = '';
  $('profile-ok').textContent = '';
  showAvatar(state.me.profile_picture);
  $('profile-dialog').showModal();
  $('profile-name').focus();
}

function choosePicture() {
  const file = $('avatar-input').files[0];
  $('avatar-input').value = '';
  if (!file) return;
  if (!IMAGE_TYPES.includes(file.type)) {
    $('profile-error').textContent = 'A picture must be a PNG, JPEG, GIF or WebP image.';
    return;
  }
  const limit = state.server && state.server.limits && state.server.limits.max_upload_bytes;
  if (limit && file.size > limit) {
    $('profile-error').textContent = 'That picture is ' + humanSize(file.size) + '; the limit is ' + humanSize(limit) + '.';
    return;
  }
  picture = file;
  const img = $('profile-avatar');
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  $('profile-error').textContent = '';
}

async function save(event) {
  event.preventDefault();
  const error = $('profile-error');
  error.textContent = '';
  $('profile-ok').textContent = '';
  const patch = {};
  const name = $('profile-name').value.trim();
  if (name !== (state.me.name || '')) patch.name = name;
  const oldPw = $('profile-old-password').value;
  const newPw = $('profile-new-password').value;
  if (newPw || oldPw) {
    if (!oldPw) return void (error.textContent = 'Enter your current password to change it.');
    if ([...newPw].length < 6) return void (error.textContent = 'The new password must be at least 6 characters.');
    patch.old_password = oldPw;
    patch.password = newPw;
  }
  try {
    if (picture instanceof File) {
      const meta = await api('POST', '/api/files?name=' + encodeURIComponent(picture.name), picture);
      patch.profile_picture = meta.url;
    } else if (picture === '') {
      patch.profile_picture = '';
    }
    if (!Object.keys(patch).length) {
      $('profile-dialog').close();
      return;
    }
    state.me = await api('PATCH', '/api/users/me', patch);
    $('me').textContent = 'Signed in as ' + displayName(state.me);
    $('profile-old-password').value = '';
    $('profile-new-password').value = '';
    picture = undefined;
    $('profile-ok').textContent = patch.password ? 'Saved. Your other sessions were logged out.' : 'Saved.';
  } catch (e) {
    error.textContent = explain(e);
  }
}

async function exportData(event) {
  const button = event.currentTarget;
  $('profile-error').textContent = '';
  button.disabled = true;
  try {
    saveBlob(await apiBlob('/api/users/me/export'), 'natter-export.json');
    $('profile-ok').textContent = 'Your data is downloading.';
  } catch (e) {
    $('profile-error').textContent = explain(e);
  } finally {
    button.disabled = false;
  }
}

export function wireProfile() {
  $('export-button').addEventListener('click', exportData);
  $('profile-button').addEventListener('click', openProfile);
  $('profile-close').addEventListener('click', () => $('profile-dialog').close());
  $('profile-form').addEventListener('submit', save);
  $('avatar-input').addEventListener('change', choosePicture);
  $('avatar-remove').addEventListener('click', () => {
    picture = '';
    $('profile-avatar').hidden = true;
  });
  // Focus returns to the button that opened it.
  $('profile-dialog').addEventListener('close', () => $('profile-button').focus());
}
