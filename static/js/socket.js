// The user socket: connect, resume with ?since=, reconnect, and every frame.

import { agentFailed, dropDraft, showDraft } from './ai.js';
import { api } from './api.js';
import { deliver, failPending } from './composer.js';
import { applyMessage, clearTyping, noteId, renderPresence, seenUpTo, showTyping } from './conversation.js';
import { $, setStatus } from './dom.js';
import { bumpConversation, renderSidebar } from './sidebar.js';
import { state } from './state.js';

export function ensureSocket() {
  if (state.ws || !state.access) return;
  openSocket();
}

function openSocket() {
  clearTimeout(state.retryTimer);
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  // Always resume: even from 0, messages sent between loading the lists and
  // this socket opening are replayed.
  const url = scheme + location.host + '/api/ws?token=' + encodeURIComponent(state.access) + '&since=' + state.lastId;
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.onopen = () => {
    state.wsOpen = true;
    state.everConnected = true;
    state.retry = 0;
    setStatus('connected', 'online');
    // Frames are in order: once the pong is back, the replay of what was
    // missed is over, and anything still unconfirmed did not get through.
    ws.send(JSON.stringify({ action: 'ping' }));
  };
  ws.onmessage = (e) => {
    let frame;
    try {
      frame = JSON.parse(e.data);
    } catch (err) {
      return;
    }
    onFrame(frame, ws);
  };
  ws.onclose = (e) => {
    state.wsOpen = false;
    state.ws = null;
    // A clean close comes after the server finished every send it had read,
    // so a send not confirmed by the replay was never stored: resend it then.
    // After an abrupt drop nobody knows; the user decides (Retry).
    const clean = [1000, 1001, 1008, 1013].includes(e.code);
    for (const p of state.pending.values()) {
      if (p.sentOn === ws) {
        p.unconfirmed = true;
        p.resend = clean;
      }
    }
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  if (!state.access) return;
  setStatus('reconnecting…', 'reconnecting');
  const delay = Math.min(500 * 2 ** state.retry, 8000);
  state.retry += 1;
  state.retryTimer = setTimeout(async () => {
    // A refused upgrade looks like any drop; make sure the token is fresh.
    try {
      await api('GET', '/api/users/me');
    } catch (e) {
      if (!state.access) return;
    }
    openSocket();
  }, delay);
}

function onFrame(f, ws) {
  switch (f.action) {
    case 'message': {
      const m = f.message;
      noteId(m.message_id);
      let cid = f.client_id;
      if (!cid && m.sender_id === state.me.user_id) {
        // A replayed message of ours has no client_id: match it by content.
        for (const [k, p] of state.pending) {
          if (p.unconfirmed && p.conversation === m.conversation_id && p.text === m.message) {
            cid = k;
            break;
          }
        }
      }
      if (cid && state.pending.has(cid)) {
        const p = state.pending.get(cid);
        state.pending.delete(cid);
        p.li.remove();
      }
      if (f.reply_id) dropDraft(f.reply_id);
      const isNew = applyMessage(m);
      if (isNew) bumpConversation(m);
      clearTyping(m.conversation_id, m.sender_username);
      break;
    }
    case 'message_updated':
    case 'message_deleted':
      applyMessage(f.message);
      break;
    case 'message_delta':
      showDraft(f);
      break;
    case 'typing':
      showTyping(f.conversation_id, f.username);
      break;
    case 'read':
      if (f.user_id !== state.me.user_id) seenUpTo(f.conversation_id, f.message_id);
      break;
    case 'presence':
      state.online.set(f.user_id, f.online);
      renderSidebar();
      renderPresence();
      break;
    case 'error':
      if (f.client_id && state.pending.has(f.client_id)) failPending(f.client_id, f.message);
      else if (f.reply_id) agentFailed(f);
      else $('composer-error').textContent = f.message;
      break;
    case 'pong':
      // The replay is over: what is still unconfirmed was not stored.
      for (const [cid, p] of state.pending) {
        if (!p.unconfirmed) continue;
        if (p.resend) {
          state.pending.delete(cid);
          p.li.remove();
          deliver(p.conversation, p.text, p.attachment);
        } else {
          failPending(cid, 'connection lost');
        }
      }
      break;
    default:
      break;
  }
  if (ws !== state.ws) ws.close();
}
