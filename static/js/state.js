// The page's state: who is signed in, the conversations, the messages loaded, the socket.

import { api } from './api.js';

export const state = {
  access: localStorage.getItem('natter.access'),
  refresh: localStorage.getItem('natter.refresh'),
  me: null,
  conversations: new Map(), // id -> conversation (from /api/conversations)
  rooms: [], // public rooms (from /api/rooms)
  current: null, // the conversation shown
  live: new Set(), // conversations the user pressed Connect on
  messages: new Map(), // conversation id -> Map(message id -> message)
  oldest: new Map(), // conversation id -> oldest loaded id, or 0 when all are loaded
  pending: new Map(), // client_id -> {conversation, text, li, attachment}
  online: new Map(), // user id -> bool
  typing: new Map(), // conversation id -> Map(user name -> timer)
  lastId: 0, // the newest message id the socket delivered: where a reconnect resumes
  seen: new Set(), // message ids already counted
  everConnected: false,
  ws: null,
  wsOpen: false,
  retry: 0,
  retryTimer: null,
  lastTyping: 0,
  stick: true, // the view follows new messages while it is scrolled to the end
  blobs: new Map(), // file id -> object URL
  server: null, // what the server offers (GET /api/server): its AI agent, its limits
  drafts: new Map(), // reply id -> {conversation, text, state, li}: the agent's replies being written
};
