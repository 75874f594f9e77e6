// A message's text as a safe subset of Markdown, built as DOM nodes:
// **bold**, *italics* and _italics_, `code`, fenced code blocks, > quotes,
// [links](https://…) and bare URLs. User text only ever becomes text nodes
// (textContent) and checked attributes; nothing is parsed as HTML. The raw
// text stays what the server keeps and other dialects see. The rules are
// written down in docs/PAGE.md ("Formatting").
//
// Every step is linear in the text (no backtracking search per marker), so a
// long hostile message costs no more than a long plain one.

import { el } from './dom.js';

const SCHEMES = ['http:', 'https:', 'mailto:'];
/** Emphasis nested deeper than this shows its markers as text. */
const MAX_NEST = 8;
/** A link's destination longer than this is not a link (the URL in it is still autolinked). */
const MAX_DEST = 1000;

const FENCE_OPEN = /^ {0,3}(`{3,})[ \t]*([^`]*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,})[ \t]*$/;
const QUOTE = /^ {0,3}> ?/;
const AUTOLINK = /(?:https?:\/\/|mailto:)[^\s<>"`]*/iy;
const WORD = /[\p{L}\p{N}]/u;
const SPACE = /\s/;

/** The nodes for a message's text, as a fragment to append. */
export function renderMarkdown(source) {
  const out = document.createDocumentFragment();
  const lines = String(source ?? '').split(/\r?\n/);
  // A line break is owed after each line of text. Before a block it is
  // written anyway (it shows nothing there, and a blank line before the
  // block still shows as one); after a block nothing is owed.
  let owed = false;
  const textLine = (line, parent) => {
    if (owed) appendText(parent, '\n');
    build(inline(line, false), parent);
    owed = true;
  };
  const block = (node) => {
    if (owed) appendText(out, '\n');
    out.append(node);
    owed = false;
  };
  // An opening fence with no closing fence after it stays text; once a search
  // fails for n backticks, any later fence of n or more fails too.
  let noCloseFor = Infinity;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const open = FENCE_OPEN.exec(line);
    if (open && open[1].length < noCloseFor) {
      const end = closingFence(lines, i + 1, open[1].length);
      if (end < 0) noCloseFor = open[1].length;
      else {
        block(codeBlock(open[2].trim().split(/\s+/)[0], lines.slice(i + 1, end).join('\n')));
        i = end;
        continue;
      }
    }
    if (QUOTE.test(line)) {
      const quote = el('blockquote');
      let first = true;
      for (; i < lines.length && QUOTE.test(lines[i]); i++) {
        if (!first) appendText(quote, '\n');
        build(inline(lines[i].replace(QUOTE, ''), false), quote);
        first = false;
      }
      i--;
      block(quote);
      continue;
    }
    textLine(line, out);
  }
  return out;
}

function closingFence(lines, from, n) {
  for (let j = from; j < lines.length; j++) {
    const close = FENCE_CLOSE.exec(lines[j]);
    if (close && close[1].length >= n) return j;
  }
  return -1;
}

function codeBlock(label, body) {
  // Focusable, so a block wider than the message scrolls with the keyboard too.
  return el('div', { class: 'code-block' },
    label ? el('span', { class: 'code-lang', text: label }) : null,
    el('pre', { tabindex: '0' }, el('code', { text: body })));
}

/** An http(s) or mailto URL as the browser will read it, or null for anything else. */
export function safeHref(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (!SCHEMES.includes(url.protocol)) return null;
  if (url.protocol === 'mailto:' ? !url.pathname : !url.hostname) return null;
  return url.href;
}

/**
 * One line's inline nodes: strings, {t:'code'}, {t:'a'}, {t:'em'|'strong'}
 * and leftover delimiters {t:'delim'} (shown as the markers they are).
 * Inside a link's text there are no further links.
 */
function inline(line, inLink) {
  const spans = codeSpans(line);
  let closers = null; // where the next ']' is, made on the first '['
  const out = [];
  const stack = []; // delimiters that may open: { d, at } with `at` its index in out
  // Below bottom[kind], no opener for a closer of that kind (CommonMark's
  // openers_bottom): a failed search is never repeated.
  const bottom = {};
  let buf = '';
  const flush = () => {
    if (buf) out.push(buf);
    buf = '';
  };
  // A closing delimiter wraps everything since the nearest opener of its kind.
  const close = (d) => {
    const kind = d.ch + d.canOpen + (d.len % 3);
    while (d.count > 0) {
      const floor = bottom[kind] ?? 0;
      let k = stack.length - 1;
      while (k >= floor && !pairs(stack[k].d, d)) k--;
      if (k < floor) {
        bottom[kind] = stack.length;
        return;
      }
      const { d: o, at } = stack[k];
      const use = d.count >= 2 && o.count >= 2 ? 2 : 1;
      const kids = out.splice(at + 1);
      o.count -= use;
      d.count -= use;
      // Openers inside what was wrapped can no longer close: they stay text.
      stack.length = o.count > 0 ? k + 1 : k;
      for (const key in bottom) bottom[key] = Math.min(bottom[key], stack.length);
      if (o.count === 0) out.pop();
      out.push({ t: use === 2 ? 'strong' : 'em', mark: d.ch.repeat(use), kids });
    }
  };
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === '`') {
      const span = spans.get(i);
      let j = i;
      if (span) {
        flush();
        out.push({ t: 'code', text: span.inner });
        j = span.end;
      } else {
        while (line[j] === '`') j++;
        buf += line.slice(i, j);
      }
      i = j;
      continue;
    }
    if (c === '[' && !inLink) {
      closers ??= closerIndex(line, spans);
      const link = linkAt(line, i, closers);
      if (link) {
        if (link.href) {
          flush();
          out.push({ t: 'a', href: link.href, kids: inline(link.label, true) });
        } else {
          buf += line.slice(i, link.end); // a link to anything else stays exactly as written
        }
        i = link.end;
        continue;
      }
    }
    if (!inLink && (c === 'h' || c === 'H' || c === 'm' || c === 'M') && !WORD.test(line[i - 1] ?? ' ')) {
      AUTOLINK.lastIndex = i;
      const m = AUTOLINK.exec(line);
      if (m) {
        const url = trimUrl(m[0]);
        const href = safeHref(url);
        if (href) {
          flush();
          out.push({ t: 'a', href, kids: [url] });
          i += url.length; // what was trimmed off is read as ordinary text
        } else {
          buf += m[0];
          i += m[0].length;
        }
        continue;
      }
    }
    if (c === '*' || c === '_') {
      let j = i;
      while (line[j] === c) j++;
      const n = j - i;
      const before = line[i - 1] ?? ' ';
      const after = line[j] ?? ' ';
      let canOpen = !SPACE.test(after);
      let canClose = !SPACE.test(before);
      // No emphasis with _ inside a word (snake_case_names stay as they are).
      if (c === '_') {
        canOpen &&= !WORD.test(before);
        canClose &&= !WORD.test(after);
      }
      const marker = c === '*' ? n <= 3 : n === 1;
      if (!marker || (!canOpen && !canClose)) {
        buf += line.slice(i, j);
      } else {
        flush();
        const d = { t: 'delim', ch: c, count: n, len: n, canOpen, canClose };
        if (canClose) close(d);
        if (d.count > 0) {
          if (canOpen) stack.push({ d, at: out.length });
          out.push(d);
        }
      }
      i = j;
      continue;
    }
    buf += c;
    i++;
  }
  flush();
  return out;
}

/**
 * Whether opener o and closer d make emphasis: the same marker, and
 * CommonMark's rule of three (a run that could both open and close pairs
 * only with a run whose length does not add up to a multiple of three), so
 * `**a* and a*b*c` reads as `*<em>a</em> and a<em>b</em>c`.
 */
function pairs(o, d) {
  if (o.ch !== d.ch) return false;
  if (!(o.canClose || d.canOpen)) return true;
  return (o.len + d.len) % 3 !== 0 || (o.len % 3 === 0 && d.len % 3 === 0);
}

/**
 * Code spans: a run of n backticks up to the next run of exactly n. Found
 * first, so nothing inside one is read as anything else.
 */
function codeSpans(line) {
  const spans = new Map();
  if (!line.includes('`')) return spans;
  const runs = [];
  for (let i = line.indexOf('`'); i >= 0; i = line.indexOf('`', i)) {
    let j = i;
    while (line[j] === '`') j++;
    runs.push([i, j - i]);
    i = j;
  }
  const next = new Array(runs.length);
  const seen = new Map();
  for (let r = runs.length - 1; r >= 0; r--) {
    next[r] = seen.get(runs[r][1]) ?? -1;
    seen.set(runs[r][1], r);
  }
  for (let r = 0; r < runs.length; r++) {
    if (next[r] < 0) continue;
    const [start, n] = runs[r];
    const [end] = runs[next[r]];
    let inner = line.slice(start + n, end);
    // As in CommonMark: one space each side is padding (`` `x` ``).
    if (inner.length >= 2 && inner[0] === ' ' && inner.at(-1) === ' ' && inner.trim()) inner = inner.slice(1, -1);
    spans.set(start, { end: end + n, inner });
    r = next[r];
  }
  return spans;
}

/** For each position, where the next ']' outside code spans is (-1: none). */
function closerIndex(line, spans) {
  const inCode = new Uint8Array(line.length);
  for (const [start, { end }] of spans) inCode.fill(1, start, end);
  const at = new Int32Array(line.length + 1).fill(-1);
  for (let i = line.length - 1; i >= 0; i--) at[i] = line[i] === ']' && !inCode[i] ? i : at[i + 1];
  return at;
}

/** `[label](destination)` at i: its parts and where it ends, or null if it is not one. */
function linkAt(line, i, closers) {
  const j = closers[i + 1];
  if (j < 0 || line[j + 1] !== '(') return null;
  const label = line.slice(i + 1, j);
  if (!label.trim()) return null;
  let depth = 0;
  let k = j + 2;
  for (const stop = Math.min(line.length, j + 2 + MAX_DEST); k < stop; k++) {
    const ch = line.charCodeAt(k);
    if (ch === 0x28) depth++; // (
    else if (ch === 0x29 && depth-- === 0) break; // )
    // No spaces, `, <, > or " in a destination (nor any other whitespace).
    else if (ch <= 0x20 || ch === 0x60 || ch === 0x3c || ch === 0x3e || ch === 0x22 || (ch > 0x7f && SPACE.test(line[k]))) return null;
  }
  if (line[k] !== ')') return null;
  return { label, href: safeHref(line.slice(j + 2, k)), end: k + 1 };
}

/** A bare URL without the punctuation that ends the sentence around it. */
function trimUrl(url) {
  let opens = 0;
  let shut = 0;
  for (const ch of url) {
    if (ch === '(') opens++;
    else if (ch === ')') shut++;
  }
  for (;;) {
    const last = url.at(-1);
    if (".,:;!?'*_~".includes(last)) {
      url = url.slice(0, -1);
    } else if (last === ')' && shut > opens) {
      url = url.slice(0, -1);
      shut--;
    } else {
      return url;
    }
  }
}

function appendText(parent, text) {
  if (!text) return;
  const last = parent.lastChild;
  if (last && last.nodeType === Node.TEXT_NODE) last.appendData(text);
  else parent.append(document.createTextNode(text));
}

/** The DOM for inline nodes, without recursion (hostile nesting cannot exhaust the stack). */
function build(nodes, parent) {
  const work = [];
  const later = (list, into, depth) => {
    for (let k = list.length - 1; k >= 0; k--) work.push([list[k], into, depth]);
  };
  later(nodes, parent, 0);
  while (work.length) {
    const [n, into, depth] = work.pop();
    if (typeof n === 'string') {
      appendText(into, n);
    } else if (n.t === 'delim') {
      appendText(into, n.ch.repeat(n.count));
    } else if (n.t === 'code') {
      into.append(el('code', { text: n.text }));
    } else if (n.t !== 'a' && depth >= MAX_NEST) {
      // Too deep: the markers show as typed, the text inside still shows.
      // (Links do not nest, so they add one level at most.)
      work.push([n.mark, into, depth]);
      later(n.kids, into, depth);
      work.push([n.mark, into, depth]);
    } else {
      const node = n.t === 'a'
        ? el('a', { href: n.href, rel: 'noopener noreferrer nofollow', target: '_blank' })
        : el(n.t);
      into.append(node);
      later(n.kids, node, depth + 1);
    }
  }
}
