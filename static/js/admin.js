// Running the server from the page: invitations (admins, and members when
// the server allows it) and the admin view — the server in figures, a
// backup, people (search, role, deactivation, a password reset link) and
// what admins did. Moderation of single messages and rooms happens where
// they are shown (messages.js, conversation.js).

import { api, apiBlob, explain } from './api.js';
import { $, el, fullDate, humanSize, saveBlob } from './dom.js';
import { displayName } from './people.js';
import { state } from './state.js';

export const isAdmin = () => !!state.me && state.me.role === 'admin';

/** Show the "This server" buttons this person may use. */
export function applyRole() {
  const byInvite = state.server && state.server.registration === 'invite';
  const mayInvite = byInvite && (isAdmin() || (state.server && state.server.members_invite));
  $('invite-button').hidden = !mayInvite;
  $('admin-button').hidden = !isAdmin();
  $('server-section').hidden = !(mayInvite || isAdmin());
}

/** A button that asks once more before `action` (there is no undo). */
function confirming(label, question, action) {
  const button = el('button', { type: 'button', class: 'secondary' }, label);
  button.addEventListener('click', async () => {
    if (!button.dataset.confirm) {
      button.dataset.confirm = '1';
      button.textContent = question;
      setTimeout(() => {
        if (button.isConnected) {
          delete button.dataset.confirm;
          button.textContent = label;
        }
      }, 5000);
      return;
    }
    button.disabled = true;
    await action();
  });
  return button;
}

/** Copy a link field's text, saying so on the button. */
async function copy(input, button) {
  input.focus();
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    button.textContent = 'Copied';
  } catch (e) {
    // No clipboard outside https: the text is selected for the person to copy.
    button.textContent = 'Selected: copy it';
  }
  setTimeout(() => (button.textContent = 'Copy'), 3000);
}

function dateOf(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' });
}

// ---------- invitations ----------

function inviteItem(i) {
  const uses = i.max_uses ? i.uses + ' of ' + i.max_uses + ' used' : i.uses + ' used';
  let status;
  if (i.revoked) status = 'withdrawn';
  else if (i.usable) status = i.expires_at ? 'valid until ' + dateOf(i.expires_at) : 'valid';
  else if (i.max_uses && i.uses >= i.max_uses) status = 'used up';
  else status = 'expired';
  const text = 'Made by ' + (i.created_by || 'a former member') + ' on ' + dateOf(i.created_at) + ' · ' + uses + ' · ' + status;
  return el('li', { 'data-invite': i.invite_id },
    el('span', { class: 'who', text }),
    i.usable ? confirming('Withdraw', 'Withdraw it?', async () => {
      try {
        await api('DELETE', '/api/invites/' + i.invite_id);
      } catch (e) {
        $('invite-error').textContent = explain(e);
      }
      listInvites();
    }) : null);
}

async function listInvites() {
  const list = $('invite-list');
  try {
    const invites = await api('GET', '/api/invites');
    list.replaceChildren(...invites.map(inviteItem));
    if (!invites.length) list.append(el('li', { class: 'hint', text: 'No invitations yet.' }));
  } catch (e) {
    $('invite-error').textContent = explain(e);
  }
}

async function openInvites() {
  $('invite-made').hidden = true;
  $('invite-link').value = '';
  $('invite-error').textContent = '';
  $('invite-dialog').showModal();
  $('invite-uses').focus();
  await listInvites();
}

async function createInvite(event) {
  event.preventDefault();
  const error = $('invite-error');
  error.textContent = '';
  const body = {};
  const uses = $('invite-uses').value.trim();
  const days = $('invite-days').value.trim();
  if (uses) {
    if (!/^\d+$/.test(uses) || Number(uses) < 1) return void (error.textContent = 'Sign-ups: a whole number of at least 1, or leave it empty for any number.');
    body.max_uses = Number(uses);
  }
  if (!/^\d+$/.test(days) || Number(days) < 1 || Number(days) > 365) return void (error.textContent = 'Valid for: 1 to 365 days.');
  body.expires_in_days = Number(days);
  try {
    const invite = await api('POST', '/api/invites', body);
    $('invite-link').value = location.origin + invite.url;
    $('invite-made').hidden = false;
    $('invite-link').focus();
    $('invite-link').select();
    await listInvites();
  } catch (e) {
    error.textContent = explain(e);
  }
}

// ---------- the admin view ----------

async function overview() {
  const [o, ready] = await Promise.all([
    api('GET', '/api/admin/overview'),
    fetch('/readyz').then((r) => r.ok).catch(() => false),
  ]);
  const figures = [
    ['Health', ready ? 'ready' : 'not ready'],
    ['People', o.users],
    ['Rooms', o.rooms],
    ['Messages', o.messages],
    ['Files', o.files + ' (' + humanSize(o.file_bytes) + ')'],
    ['Database', humanSize(o.database_bytes)],
    ['Open sockets', o.sockets],
  ];
  $('admin-overview').replaceChildren(...figures.map(([k, v]) =>
    el('div', {}, el('dt', { text: k }), el('dd', { text: String(v) }))));
}

async function change(u, patch) {
  try {
    await api('PATCH', '/api/admin/users/' + u.user_id, patch);
  } catch (e) {
    $('admin-error').textContent = explain(e);
  }
  await Promise.all([listUsers(), listAudit()]);
}

async function resetLink(u) {
  try {
    const link = await api('POST', '/api/admin/users/' + u.user_id + '/reset-link');
    $('admin-link-label').textContent = 'Reset link for ' + u.username + ' (works once, for a day; their password stays until they use it):';
    $('admin-link-input').value = location.origin + link.url;
    $('admin-link').hidden = false;
    $('admin-link-input').focus();
    $('admin-link-input').select();
  } catch (e) {
    $('admin-error').textContent = explain(e);
  }
  listAudit();
}

function userItem(u) {
  const self = u.user_id === state.me.user_id;
  const who = displayName(u) + (u.name && u.name !== u.username ? ' (' + u.username + ')' : '') + (self ? ' — you' : '');
  const li = el('li', { 'data-user': u.username },
    el('span', { class: 'who', text: who }),
    u.role === 'admin' ? el('span', { class: 'tag', text: 'admin' }) : null,
    u.is_bot ? el('span', { class: 'tag', text: 'AI' }) : null,
    u.deactivated ? el('span', { class: 'tag', text: 'deactivated' }) : null,
    u.online ? el('span', { class: 'tag', text: 'online' }) : null);
  if (u.is_bot) return li;
  li.append(u.role === 'admin'
    ? confirming('Make member', 'No longer an admin?', () => change(u, { role: 'member' }))
    : confirming('Make admin', 'Make ' + u.username + ' an admin?', () => change(u, { role: 'admin' })));
  if (!self) {
    li.append(u.deactivated
      ? el('button', { type: 'button', class: 'secondary', onclick: () => change(u, { deactivated: false }) }, 'Reactivate')
      : confirming('Deactivate', 'Log ' + u.username + ' out and lock them out?', () => change(u, { deactivated: true })));
  }
  li.append(el('button', { type: 'button', class: 'secondary', onclick: () => resetLink(u) }, 'Reset link'));
  return li;
}

async function listUsers() {
  const q = $('admin-search').value.trim();
  try {
    const users = await api('GET', '/api/admin/users?limit=100' + (q ? '&q=' + encodeURIComponent(q) : ''));
    $('admin-users').replaceChildren(...users.map(userItem));
    if (!users.length) $('admin-users').append(el('li', { class: 'hint', text: 'Nobody matches.' }));
  } catch (e) {
    $('admin-error').textContent = explain(e);
  }
}

const ACTIONS = {
  'invite.create': 'made an invitation',
  'invite.revoke': 'withdrew an invitation',
  'user.role': 'changed the role of',
  'user.deactivate': 'deactivated',
  'user.activate': 'reactivated',
  'user.reset_link': 'made a reset link for',
  'user.password_reset': 'set a new password with a link:',
  'message.delete': 'deleted message',
  'room.delete': 'deleted the room',
  'cli.create': 'created (command line)',
  'cli.reset_password': 'set the password of (command line)',
};

async function listAudit() {
  try {
    const entries = await api('GET', '/api/admin/audit?limit=50');
    $('admin-audit').replaceChildren(...entries.map((a) => {
      const action = ACTIONS[a.action] || a.action;
      const what = [a.actor || 'The command line', action, a.action.startsWith('invite.') ? '' : a.target, a.detail ? '(' + a.detail + ')' : '']
        .filter(Boolean).join(' ');
      return el('li', {}, el('time', { datetime: a.at, title: fullDate(a.at), text: dateOf(a.at) }), el('span', { text: what }));
    }));
    if (!entries.length) $('admin-audit').append(el('li', { class: 'hint', text: 'Nothing yet.' }));
  } catch (e) {
    $('admin-error').textContent = explain(e);
  }
}

async function openAdmin() {
  $('admin-error').textContent = '';
  $('admin-link').hidden = true;
  $('admin-dialog').showModal();
  $('admin-search').focus();
  try {
    await Promise.all([overview(), listUsers(), listAudit()]);
  } catch (e) {
    $('admin-error').textContent = explain(e);
  }
}

async function backup(event) {
  const button = event.currentTarget;
  button.disabled = true;
  button.textContent = 'Making a backup…';
  try {
    saveBlob(await apiBlob('/api/admin/backup'), 'natter-backup.db');
  } catch (e) {
    $('admin-error').textContent = explain(e);
  } finally {
    button.disabled = false;
    button.textContent = 'Download a backup';
  }
}

let searchTimer = null;

export function wireAdmin() {
  $('invite-button').addEventListener('click', openInvites);
  $('invite-form').addEventListener('submit', createInvite);
  $('invite-copy').addEventListener('click', (e) => copy($('invite-link'), e.currentTarget));
  $('invite-close').addEventListener('click', () => $('invite-dialog').close());
  $('invite-dialog').addEventListener('close', () => $('invite-button').focus());
  $('admin-button').addEventListener('click', openAdmin);
  $('admin-close').addEventListener('click', () => $('admin-dialog').close());
  $('admin-dialog').addEventListener('close', () => $('admin-button').focus());
  $('admin-backup').addEventListener('click', backup);
  $('admin-link-copy').addEventListener('click', (e) => copy($('admin-link-input'), e.currentTarget));
  $('admin-search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    listUsers();
  });
  $('admin-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(listUsers, 250);
  });
}
