// Signing in and out, and starting the signed-in page.

import { applyRole } from './admin.js';
import { api, explain, saveTokens } from './api.js';
import { applyServerInfo } from './composer.js';
import { goLive, renderConnectState, route } from './conversation.js';
import { $ } from './dom.js';
import { displayName } from './people.js';
import { forgetPush } from './push.js';
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
    // An invitation link is used up by signing up: leave it.
    if (authLink()) history.replaceState(null, '', location.pathname);
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

/** An invitation (`#/invite/CODE`) or reset (`#/reset/TOKEN`) link. */
function authLink() {
  const m = location.hash.match(/^#\/(invite|reset)\/([A-Za-z0-9_-]{8,})$/);
  return m ? { kind: m[1], code: m[2] } : null;
}

function notice(id, text) {
  $(id).textContent = text || '';
  $(id).hidden = !text;
}

/**
 * Show the sign-in forms (nobody is signed in), as the server's sign-up
 * rule and the link that brought the person here say: an invitation link
 * fills in its code; a reset link shows only the new-password form.
 */
async function showAuth(message) {
  $('app').hidden = true;
  $('auth').hidden = false;
  notice('auth-notice', message);
  const link = authLink();
  const reset = link && link.kind === 'reset';
  $('reset-form').hidden = !reset;
  $('login-form').hidden = reset;
  $('signup-form').hidden = reset;
  if (reset) {
    $('reset-password').focus();
    return;
  }
  const invited = link && link.kind === 'invite';
  $('signup-invite').value = invited ? link.code : '';
  $('login-username').focus();
  const server = await fetch('/api/server').then((r) => r.json()).catch(() => null);
  const rule = server && server.registration;
  let text = '';
  if (invited) text = 'You were invited: choose a username and a password.';
  else if (rule === 'invite') text = 'Sign-up on this server is by invitation: open the invitation link you were sent.';
  else if (rule === 'closed') text = 'Sign-up is closed on this server: ask its admin for an account.';
  notice('signup-notice', text);
  $('signup-fields').hidden = !invited && (rule === 'invite' || rule === 'closed');
  if (invited) $('signup-username').focus();
}

/** Choose a new password with a reset link; then log in with it. */
export async function submitReset(event) {
  event.preventDefault();
  const error = $('reset-error');
  const password = $('reset-password').value;
  error.textContent = '';
  if ([...password].length < 6) {
    error.textContent = 'Choose a password of at least 6 characters.';
    $('reset-password').focus();
    return;
  }
  const link = authLink();
  $('reset-submit').disabled = true;
  try {
    const res = await fetch('/api/auth/reset', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: link ? link.code : '', password }),
    });
    if (res.ok) {
      signedOut('Your new password is set: log in with it.');
      return;
    }
    const data = await res.json().catch(() => null);
    error.textContent = (data && data.error && data.error.message) || 'Something went wrong (' + res.status + ')';
  } catch (e) {
    error.textContent = explain(e);
  } finally {
    $('reset-submit').disabled = false;
  }
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
  // This device's notifications stop with the session (the server also
  // drops them when the session ends; this unsubscribes the browser too).
  await forgetPush();
  try {
    await api('POST', '/api/auth/logout');
  } catch (e) {
    // Logged out either way.
  }
  signedOut();
}

export async function start() {
  const told = sessionStorage.getItem('natter.notice');
  sessionStorage.removeItem('natter.notice');
  const link = authLink();
  if (!state.access || (link && link.kind === 'reset')) {
    showAuth(told);
    return;
  }
  // Already signed in: an invitation link has nothing left to do.
  if (link) history.replaceState(null, '', location.pathname);
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
  applyRole();
  await loadSidebar();
  renderConnectState();
  if (sessionStorage.getItem('natter.connected') === '1') goLive();
  route();
}
