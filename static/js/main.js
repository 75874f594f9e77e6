// natter's page: wires the controls and starts. It talks to the native /api
// and the user socket only. Modules by concern: api (HTTP, tokens), state,
// session (sign in and out), sidebar, conversation (the view, Connect,
// history), messages (one message, editing), composer (sending,
// attachments), socket (live frames), ai (the agent's replies), profile,
// admin (invitations and the admin view), search (finding messages),
// notify (mentions, notify levels, system notifications), push (the
// service worker and Web Push).

import { wireAdmin } from './admin.js';
import { adoptStoredTokens } from './api.js';
import { attachFile, autoGrow, composerKey, sendFromComposer, wireDropAndPaste } from './composer.js';
import { connect, deleteRoom, leaveRoom, loadNewer, loadOlder, markRead, onScroll, renameRoom, route, toLatest, toggleMembers } from './conversation.js';
import { $ } from './dom.js';
import { wireLightbox } from './messages.js';
import { wireNotify } from './notify.js';
import { wireProfile } from './profile.js';
import { wirePush } from './push.js';
import { wireSearch } from './search.js';
import { logout, signedOut, start, submitAuth, submitReset } from './session.js';
import { createRoom, searchPeople, startAiChat } from './sidebar.js';
import { state } from './state.js';

function wire() {
  $('login-form').addEventListener('submit', (e) => submitAuth(e, '/api/auth/login', ['username', 'password'], 'login-error'));
  $('signup-form').addEventListener('submit', (e) => submitAuth(e, '/api/auth/register', ['username', 'name', 'password', 'invite'], 'signup-error'));
  $('reset-form').addEventListener('submit', submitReset);
  $('logout').addEventListener('click', logout);
  $('new-room-form').addEventListener('submit', createRoom);
  $('search-form').addEventListener('submit', (e) => e.preventDefault());
  $('user-search').addEventListener('input', searchPeople);
  $('ai-chat-button').addEventListener('click', startAiChat);
  $('connect').addEventListener('click', connect);
  $('connect-top').addEventListener('click', connect);
  $('members-button').addEventListener('click', toggleMembers);
  $('rename-form').addEventListener('submit', renameRoom);
  $('leave-room').addEventListener('click', leaveRoom);
  $('delete-room').addEventListener('click', deleteRoom);
  $('composer').addEventListener('submit', sendFromComposer);
  $('message-input').addEventListener('keydown', composerKey);
  $('message-input').addEventListener('input', autoGrow);
  $('file-input').addEventListener('change', attachFile);
  $('load-older').addEventListener('click', loadOlder);
  $('load-newer').addEventListener('click', loadNewer);
  $('scroller').addEventListener('scroll', onScroll);
  $('new-below').addEventListener('click', () => {
    toLatest();
    $('message-input').focus();
  });
  $('show-sidebar').addEventListener('click', () => {
    // On a phone the list and the conversation take turns; Back returns too.
    history.pushState(null, '', location.pathname);
    route();
  });
  window.addEventListener('popstate', () => {
    if (state.me) route();
  });
  // An invitation or reset link opened in a tab that already shows the page.
  window.addEventListener('hashchange', () => {
    if (!state.me || location.hash.startsWith('#/reset/')) start();
  });
  window.addEventListener('storage', (e) => {
    if (e.key === 'natter.refresh') {
      if (e.newValue) adoptStoredTokens();
      else if (state.me) signedOut('You logged out in another tab.');
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.current && state.connected) markRead(state.current);
  });
  wireDropAndPaste();
  wireLightbox();
  wireProfile();
  wireAdmin();
  wireSearch();
  wireNotify();
  wirePush();
}

wire();
start();

// The page's state, for the browser console (and the browser tests).
window.natter = { state };
