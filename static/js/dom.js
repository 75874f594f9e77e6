// Small DOM helpers. User text only ever goes into the page through
// textContent (el's `text`), never as HTML.

export const $ = (id) => document.getElementById(id);
export const PAGE = 50;
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

export function clientId() {
  return 'c' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

export function setStatus(text, cls) {
  const s = $('conn-status');
  s.textContent = text;
  s.className = 'status ' + (cls || '');
}

export function timeOf(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** The full date and time, for a tooltip. */
export function fullDate(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString([], { dateStyle: 'full', timeStyle: 'short' });
}

/** The local day of a time, as a key ("2026-11-26"). */
export function dayKey(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.getFullYear() + '-' + (d.getMonth() + 1) + '-' + d.getDate();
}

/** "Today", "Yesterday", or the date. */
export function dayLabel(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const today = new Date();
  const yesterday = new Date(today);
  yesterday.setDate(today.getDate() - 1);
  if (dayKey(d) === dayKey(today)) return 'Today';
  if (dayKey(d) === dayKey(yesterday)) return 'Yesterday';
  const sameYear = d.getFullYear() === today.getFullYear();
  return d.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long', year: sameYear ? undefined : 'numeric' });
}

/** 10485760 → "10 MB". */
export function humanSize(bytes) {
  if (bytes < 1024) return bytes + ' bytes';
  if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + ' KB';
  const mb = bytes / (1024 * 1024);
  return (mb >= 10 ? Math.round(mb) : Math.round(mb * 10) / 10) + ' MB';
}

/** A touch screen as the main input: Enter makes a new line there. */
export function isTouch() {
  return window.matchMedia('(pointer: coarse)').matches;
}

/** Offer a downloaded Blob as a file to save. */
export function saveBlob({ blob, name }, fallback) {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: name || fallback });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
