// The page's state: who is signed in, the conversations, the messages
// loaded, the socket. Everything of a user lives here or in the DOM, and
// logging out reloads the page, so nothing of theirs outlives it.

export const state = {
  access: localStorage.getItem('natter.access'),
  refresh: localStorage.getItem('natter.refresh'),
  me: null,
  server: null, // what the server offers (GET /api/server): its AI agent, its limits
  conversations: new Map(), // id -> conversation (from /api/conversations)
  rooms: [], // public rooms (from /api/rooms)
  current: null, // the conversation shown
  // Connect was pressed in this visit: the socket is (or should be) open and
  // every conversation shows its history and live messages.
  connected: false,
  loaded: new Set(), // conversations whose newest page was loaded
  messages: new Map(), // conversation id -> Map(message id -> message)
  oldest: new Map(), // conversation id -> oldest loaded id, or 0 when all are loaded
  // conversation id -> newest loaded id, while the loaded page (around a
  // message found by search) does not reach the newest message
  newer: new Map(),
  generation: new Map(), // conversation id -> a count bumped when its loaded messages are dropped
  found: null, // {conversation, message}: the search result opened, marked in the view
  newSince: new Map(), // conversation id -> the first message that was unread when it was opened
  pending: new Map(), // client_id -> {conversation, text, li, attachment, replyTo}
  replyTo: null, // {id, conversation}: the message the composer's next send answers
  drafts: new Map(), // reply id -> {conversation, li}: the agent's replies being written
  online: new Map(), // user id -> bool
  typing: new Map(), // conversation id -> Map(user name -> timer)
  lastId: 0, // the newest change-log id (event_id) the socket delivered: where a reconnect resumes
  seen: new Set(), // message ids already counted
  everConnected: false,
  ws: null,
  wsOpen: false,
  live: false, // the socket's replay is over: what arrives now is news
  retry: 0,
  retryTimer: null,
  lastTyping: 0,
  stick: true, // the view follows new messages while it is scrolled to the end
  blobs: new Map(), // file id -> object URL
  attachment: null, // the file chosen for the next message
};
