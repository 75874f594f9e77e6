// natter's page: wires the controls and starts. It talks to the native /api and the user socket only.

import { adoptStoredTokens, api } from './api.js';
import { attachFile, autoGrow, composerKey, sendFromComposer } from './composer.js';
import { connect, loadOlder, markRead, nearEnd } from './conversation.js';
import { $ } from './dom.js';
import { logout, signedOut, start, submitAuth } from './session.js';
import { createRoom, searchPeople, startAiChat } from './sidebar.js';
import { state } from './state.js';

function wire() {
  $('login-form').addEventListener('submit', (e) => submitAuth(e, '/api/auth/login', ['username', 'password'], 'login-error'));
  $('signup-form').addEventListener('submit', (e) => submitAuth(e, '/api/auth/register', ['username', 'name', 'password'], 'signup-error'));
  $('logout').addEventListener('click', logout);
  $('new-room-form').addEventListener('submit', createRoom);
  $('search-form').addEventListener('submit', (e) => e.preventDefault());
  $('user-search').addEventListener('input', searchPeople);
  $('ai-chat-button').addEventListener('click', startAiChat);
  $('connect').addEventListener('click', connect);
  $('composer').addEventListener('submit', sendFromComposer);
  $('message-input').addEventListener('keydown', composerKey);
  $('message-input').addEventListener('input', autoGrow);
  $('file-input').addEventListener('change', attachFile);
  $('load-older').addEventListener('click', loadOlder);
  $('scroller').addEventListener('scroll', () => {
    state.stick = nearEnd();
    if ($('scroller').scrollTop < 20 && state.oldest.get(state.current)) loadOlder();
  });
  $('show-sidebar').addEventListener('click', () => $('app').classList.remove('viewing'));
  window.addEventListener('storage', (e) => {
    if (e.key === 'natter.refresh') {
      if (e.newValue) adoptStoredTokens();
      else if (state.me) signedOut('You logged out in another tab.');
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.current && state.live.has(state.current)) markRead(state.current);
  });
}


wire();
start();

// The page's state, for the browser console (and the browser tests).
window.natter = { state };
