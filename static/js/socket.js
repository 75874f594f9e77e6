// The user socket: open once Connect is pressed, resume with ?since=,
// reconnect on its own, and every frame the server sends.

import { agentFailed, dropDraft, showDraft } from './ai.js';
import { api } from './api.js';
import { failPending, deliver, sendWaiting } from './composer.js';
import { applyMessage, clearTyping, closed, markRead, renderPresence, seenUpTo, select, showTyping } from './conversation.js';
import { $, setStatus } from './dom.js';
import { levelChanged, notifyOf } from './notify.js';
import { reactionFrame } from './reactions.js';
import { displayName, senderName } from './people.js';
import { bumpConversation, loadSidebar, noteId, renderSidebar, roomChanged } from './sidebar.js';
import { state } from './state.js';

export function openSocket() {
  clearTimeout(state.retryTimer);
  if (!state.access || !state.connected) return;
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  // Always resume: even from 0, messages sent between loading the lists and
  // this socket opening are replayed.
  const url = scheme + location.host + '/api/ws?token=' + encodeURIComponent(state.access) + '&since=' + state.lastId;
  const ws = new WebSocket(url);
  state.ws = ws;
  if (!state.everConnected) setStatus('connecting…', 'reconnecting');
  ws.onopen = () => {
    state.wsOpen = true;
    // Until the pong, frames are the replay of what was missed: nobody is
    // notified of those (the counts and the Mentions list tell).
    state.live = false;
    state.everConnected = true;
    state.retry = 0;
    setStatus('connected', 'online');
    // Nobody tells us of our own presence.
    state.online.set(state.me.user_id, true);
    renderPresence();
    // Errors about the lost connection are over.
    $('composer-error').textContent = '';
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
  if (!state.access || !state.connected) return;
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

/** A person's display name from any conversation they are in. */
function nameOf(userId, fallback) {
  for (const c of state.conversations.values()) {
    const p = c.participants.find((x) => x.user_id === userId);
    if (p) return displayName(p);
  }
  return fallback;
}

/**
 * The server no longer keeps the changes since this page last heard from
 * it: drop what the page holds and load it all again.
 */
async function reloadEverything() {
  state.loaded.clear();
  state.messages.clear();
  try {
    await loadSidebar();
  } catch (e) {
    return;
  }
  if (state.current && state.conversations.has(state.current)) select(state.current, { push: false });
}

function onFrame(f, ws) {
  // Every logged change carries its id in the change log: a reconnect
  // resumes after the newest one seen.
  if (typeof f.event_id === 'number') noteId(f.event_id);
  switch (f.action) {
    case 'reload':
      reloadEverything();
      break;
    case 'message': {
      const m = f.message;
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
      if (isNew) {
        bumpConversation(m);
        notifyOf(m);
      }
      if (state.current === m.conversation_id && !document.hidden) markReadSoon(m.conversation_id);
      clearTyping(m.conversation_id, senderName(m));
      break;
    }
    case 'message_updated':
    case 'message_deleted':
      applyMessage(f.message);
      break;
    case 'reaction':
      reactionFrame(f);
      break;
    case 'notify_level':
      levelChanged(f.conversation_id, f.level);
      break;
    case 'message_delta':
      showDraft(f);
      break;
    case 'typing':
      showTyping(f.conversation_id, nameOf(f.user_id, f.username));
      break;
    case 'read':
      if (f.user_id !== state.me.user_id) seenUpTo(f.conversation_id, f.message_id);
      break;
    case 'presence':
      state.online.set(f.user_id, f.online);
      renderSidebar();
      renderPresence();
      break;
    case 'room': {
      const { closed: gone } = roomChanged(f);
      if (gone) closed(f.conversation_id);
      else if (state.current === f.conversation_id) {
        const conv = state.conversations.get(f.conversation_id);
        if (conv && f.change === 'renamed') $('conv-title').textContent = '# ' + conv.name;
        renderPresence();
      }
      break;
    }
    case 'error':
      if (f.client_id && state.pending.has(f.client_id)) failPending(f.client_id, f.message);
      else if (f.reply_id) agentFailed(f);
      else $('composer-error').textContent = f.message;
      break;
    case 'pong':
      state.live = true;
      // The replay is over: what is still unconfirmed was not stored.
      for (const [cid, p] of state.pending) {
        if (!p.unconfirmed) continue;
        if (p.resend) {
          state.pending.delete(cid);
          p.li.remove();
          deliver(p.conversation, p.text, p.attachment, p.replyTo);
        } else {
          failPending(cid, 'connection lost');
        }
      }
      sendWaiting();
      break;
    default:
      break;
  }
  if (ws !== state.ws) ws.close();
}

let readTimer = null;
/** Mark the open conversation read once a burst of messages is in. */
function markReadSoon(id) {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    if (state.current === id) markRead(id);
  }, 100);
}

