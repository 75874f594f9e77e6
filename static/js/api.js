// The native API over fetch: tokens, one refresh at a time, errors as
// ApiError with a message a person can read.

import { signedOut } from './session.js';
import { state } from './state.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** A failure as a person should read it: never "Failed to fetch". */
export function explain(e) {
  if (e instanceof ApiError) return e.message;
  if (e instanceof TypeError) return 'You are offline, or the server cannot be reached right now.';
  return String((e && e.message) || e);
}

// One refresh at a time, shared by every request that needs it. Refresh
// tokens are single-use, so two refreshes with the same one would look like
// theft; and another tab may already have refreshed (it stores the new pair).
let refreshing = null;

export function adoptStoredTokens() {
  const stored = localStorage.getItem('natter.refresh');
  if (stored && stored !== state.refresh) {
    state.access = localStorage.getItem('natter.access');
    state.refresh = stored;
    return true;
  }
  return false;
}

function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      if (adoptStoredTokens()) return true;
      if (!state.refresh) return false;
      const res = await fetch('/api/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: state.refresh }),
      });
      if (res.ok) {
        saveTokens(await res.json());
        return true;
      }
      if (res.status === 409) {
        // Another tab refreshed with the same token a moment ago.
        await new Promise((r) => setTimeout(r, 300));
        return adoptStoredTokens();
      }
      return false;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export async function api(method, path, body, retried) {
  const headers = {};
  if (state.access) headers.authorization = 'Bearer ' + state.access;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['content-type'] = body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (res.status === 401 && !retried && state.refresh && path !== '/api/auth/refresh') {
    if (await refreshTokens()) return api(method, path, body, true);
    signedOut('Your session has ended. Please log in again.');
    throw new ApiError(401, 'session ended');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    const msg = (data && data.error && data.error.message) || res.statusText || 'request failed';
    throw new ApiError(res.status, msg);
  }
  return data;
}

/**
 * A download (a backup, one's own data): the body as a Blob and the file
 * name the server suggests, with the same token refresh as `api`.
 */
export async function apiBlob(path, retried) {
  const res = await fetch(path, { headers: { authorization: 'Bearer ' + state.access } });
  if (res.status === 401 && !retried && state.refresh) {
    if (await refreshTokens()) return apiBlob(path, true);
    signedOut('Your session has ended. Please log in again.');
    throw new ApiError(401, 'session ended');
  }
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw new ApiError(res.status, (data && data.error && data.error.message) || res.statusText || 'request failed');
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') || '');
  return { blob: await res.blob(), name: name && name[1] };
}

// Has the access token expired (or will it within a few seconds)?
export function tokenExpired() {
  try {
    const payload = state.access.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).exp * 1000 < Date.now() + 5000;
  } catch (e) {
    return true;
  }
}

export function saveTokens(t) {
  state.access = t.access_token;
  state.refresh = t.refresh_token;
  localStorage.setItem('natter.access', t.access_token);
  localStorage.setItem('natter.refresh', t.refresh_token);
}
