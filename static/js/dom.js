// Small DOM helpers. User text only ever goes into the page through textContent (el's `text`), never as HTML.

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

export function timeOf(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function clientId() {
  return 'c' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

export function setStatus(text, cls) {
  const s = $('conn-status');
  s.textContent = text;
  s.className = 'status ' + (cls || '');
}
