// Signing in and out, and starting the signed-in page.

import { api, explain, saveTokens } from './api.js';
import { applyServerInfo } from './composer.js';
import { goLive, renderConnectState, route } from './conversation.js';
import { $ } from './dom.js';
import { displayName } from './people.js';
import { loadSidebar } from './sidebar.js';
import { state } from './state.js';

const USERNAME = /^[\p{L}\p{N}_.\-@+]{3,64}$/u;

/** What is wrong with a sign-in form, before asking the server. */
function check(form, signup) {
  const username = form.elements.username.value.trim();
  const password = form.elements.password.value;
  if (!username) return ['username', signup ? 'Choose a username.' : 'Enter your username or email.'];
  if (signup && !USERNAME.test(username)) {
    return ['username', 'A username is 3 to 64 characters: letters, digits and _ . - @ +'];
  }
  if (!password) return ['password', signup ? 'Choose a password of at least 6 characters.' : 'Enter your password.'];
  if (signup && [...password].length < 6) return ['password', 'Choose a password of at least 6 characters.'];
  return null;
}

export async function submitAuth(event, path, fields, errorId) {
  event.preventDefault();
  const form = event.target;
  const error = $(errorId);
  const signup = form.id === 'signup-form';
  error.textContent = '';
  for (const f of fields) form.elements[f].removeAttribute('aria-invalid');
  const problem = check(form, signup);
  if (problem) {
    const [field, text] = problem;
    error.textContent = text;
    form.elements[field].setAttribute('aria-invalid', 'true');
    form.elements[field].focus();
    return;
  }
  const body = {};
  for (const f of fields) {
    const v = form.elements[f].value.trim();
    if (v) body[f] = f === 'password' ? form.elements[f].value : v;
  }
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      error.textContent = (data && data.error && data.error.message) || 'Something went wrong (' + res.status + ')';
      return;
    }
    saveTokens(data);
    form.reset();
    await start();
    // Somewhere useful to be, not <body>.
    const first = document.querySelector('#sidebar .conv-item');
    (first || $('new-room-name')).focus();
  } catch (e) {
    error.textContent = explain(e);
  } finally {
    button.disabled = false;
  }
}

/** Show the sign-in forms (nobody is signed in). */
function showAuth(message) {
  $('app').hidden = true;
  $('auth').hidden = false;
  $('login-error').textContent = message || '';
  $('login-username').focus();
}

/**
 * The session is over: forget everything of this user — tokens, the
 * conversation the page was on, whether it was connected — and start from a
 * fresh page, so nothing of theirs stays in memory or on screen for whoever
 * uses this device next.
 */
export function signedOut(message) {
  if (state.ws) {
    state.ws.onclose = null;
    state.ws.close();
  }
  for (const store of [localStorage, sessionStorage]) {
    for (const k of Object.keys(store)) if (k.startsWith('natter.')) store.removeItem(k);
  }
  if (message) sessionStorage.setItem('natter.notice', message);
  location.replace(location.pathname);
}

export async function logout() {
  try {
    await api('POST', '/api/auth/logout');
  } catch (e) {
    // Logged out either way.
  }
  signedOut();
}

export async function start() {
  const notice = sessionStorage.getItem('natter.notice');
  sessionStorage.removeItem('natter.notice');
  if (!state.access) {
    showAuth(notice);
    return;
  }
  try {
    state.me = await api('GET', '/api/users/me');
  } catch (e) {
    if (state.access) showAuth(e.status === 401 ? '' : explain(e));
    return;
  }
  $('auth').hidden = true;
  $('app').hidden = false;
  $('me').textContent = 'Signed in as ' + displayName(state.me);
  state.server = await api('GET', '/api/server').catch(() => null);
  applyServerInfo();
  await loadSidebar();
  renderConnectState();
  if (sessionStorage.getItem('natter.connected') === '1') goLive();
  route();
}
