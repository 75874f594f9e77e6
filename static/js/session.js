// Signing in and out, and starting the signed-in page.

import { api, saveTokens } from './api.js';
import { $, setStatus } from './dom.js';
import { loadSidebar } from './sidebar.js';
import { ensureSocket } from './socket.js';
import { state } from './state.js';

export async function submitAuth(event, path, fields, errorId) {
  event.preventDefault();
  const form = event.target;
  const error = $(errorId);
  error.textContent = '';
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
  } catch (e) {
    error.textContent = 'Cannot reach the server: ' + e.message;
  } finally {
    button.disabled = false;
  }
}

export function signedOut(message) {
  if (state.ws) {
    state.ws.onclose = null;
    state.ws.close();
  }
  clearTimeout(state.retryTimer);
  for (const url of state.blobs.values()) URL.revokeObjectURL(url);
  for (const k of ['natter.access', 'natter.refresh']) localStorage.removeItem(k);
  Object.assign(state, {
    access: null, refresh: null, me: null, current: null, ws: null, wsOpen: false, lastId: 0, retry: 0, everConnected: false,
  });
  for (const k of ['conversations', 'messages', 'oldest', 'pending', 'online', 'typing', 'blobs', 'seen', 'drafts']) state[k].clear();
  state.live.clear();
  $('app').hidden = true;
  $('auth').hidden = false;
  $('login-error').textContent = message || '';
  $('login-username').focus();
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
  if (!state.access) {
    signedOut();
    return;
  }
  try {
    state.me = await api('GET', '/api/users/me');
  } catch (e) {
    if (state.access) signedOut(e.status === 401 ? '' : 'Cannot reach the server: ' + e.message);
    return;
  }
  $('auth').hidden = true;
  $('app').hidden = false;
  $('me').textContent = 'Signed in as ' + state.me.username;
  setStatus('offline');
  state.server = await api('GET', '/api/server').catch(() => null);
  const agent = state.server && state.server.ai_agent;
  $('ai-chat').hidden = !agent;
  if (agent) $('ai-chat-button').textContent = 'Chat with ' + agent.name;
  await loadSidebar();
  ensureSocket();
}
