// Renders /api/openapi.json into a browsable page: one section per tag, one
// collapsible entry per operation with its parameters, request body and
// responses (schemas shown as example-shaped JSON). Everything is built with
// DOM calls and text nodes, never parsed as markup, so nothing in the spec can run.
"use strict";

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
};

let spec = null;

function resolve(schema) {
  let s = schema || {};
  for (let i = 0; i < 20 && s.$ref; i++) {
    const name = s.$ref.split("/").pop();
    s = (spec.components && spec.components.schemas && spec.components.schemas[name]) || {};
  }
  return s;
}

// An example-shaped value for a schema: what the JSON looks like.
function shape(schema, depth = 0) {
  const s = resolve(schema);
  if (depth > 6) return "…";
  if (s.example !== undefined) return s.example;
  const variants = s.oneOf || s.anyOf;
  if (variants) {
    const real = variants.map(resolve).filter((v) => v.type !== "null");
    return real.length ? shape(real[0], depth + 1) : null;
  }
  if (s.allOf) return Object.assign({}, ...s.allOf.map((p) => shape(p, depth + 1)));
  let type = s.type;
  if (Array.isArray(type)) type = type.find((t) => t !== "null") || "null";
  if (s.enum) return s.enum[0];
  switch (type) {
    case "object": {
      const out = {};
      for (const [k, v] of Object.entries(s.properties || {})) out[k] = shape(v, depth + 1);
      return out;
    }
    case "array": return [shape(s.items, depth + 1)];
    case "integer": case "number": return 0;
    case "boolean": return false;
    case "null": return null;
    case "string": return s.format === "uuid" ? "00000000-0000-0000-0000-000000000000"
      : s.format === "binary" ? "<bytes>" : "string";
    default: return {};
  }
}

function bodyBlock(content) {
  const frag = document.createDocumentFragment();
  for (const [type, media] of Object.entries(content || {})) {
    frag.append(el("div", {}, "Content type: ", el("code", {}, type)));
    if (media.schema) frag.append(el("pre", {}, JSON.stringify(shape(media.schema), null, 2)));
  }
  return frag;
}

function operation(path, method, op) {
  const secured = (op.security || spec.security || []).some((req) => Object.keys(req).length > 0);
  const head = el("summary", {},
    el("span", { class: `method ${method}` }, method),
    el("span", { class: "path" }, path),
    el("span", { class: "summary" }, op.summary || ""),
    secured ? el("span", { class: "lock", title: "needs a Bearer token" }, "needs auth") : null);
  const body = el("div", { class: "op-body" });
  if (op.description) body.append(el("p", {}, op.description));
  const params = op.parameters || [];
  if (params.length) {
    const rows = params.map((p) => el("tr", {},
      el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
      el("td", {}, p.required ? "yes" : "no"), el("td", {}, p.description || "")));
    body.append(el("h4", {}, "Parameters"),
      el("table", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "In"), el("th", {}, "Required"),
        el("th", {}, "Description")), ...rows));
  }
  if (op.requestBody) {
    body.append(el("h4", {}, "Request body"));
    if (op.requestBody.description) body.append(el("p", {}, op.requestBody.description));
    body.append(bodyBlock(op.requestBody.content));
  }
  body.append(el("h4", {}, "Responses"));
  for (const [status, res] of Object.entries(op.responses || {})) {
    body.append(el("div", {}, el("span", { class: "status" }, status), " ", res.description || ""));
    body.append(bodyBlock(res.content));
  }
  const entry = el("details", { class: "op" }, head, body);
  entry.dataset.search = `${method} ${path} ${op.summary || ""}`.toLowerCase();
  return entry;
}

function render() {
  document.getElementById("title").textContent = spec.info.title;
  document.getElementById("version").textContent = `Version ${spec.info.version}`;
  // Sections in the order the spec lists its tags.
  const byTag = new Map((spec.tags || []).map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(path, method, op));
    }
  }
  const main = document.getElementById("operations");
  const nav = document.getElementById("tags");
  main.replaceChildren();
  for (const [tag, ops] of byTag) {
    if (!ops.length) continue;
    const id = `tag-${tag.replace(/[^a-z0-9]+/gi, "-")}`;
    nav.append(el("a", { href: `#${id}` }, tag));
    main.append(el("section", {}, el("h2", { id }, tag), ...ops));
  }
}

function filter(text) {
  const q = text.trim().toLowerCase();
  for (const op of document.querySelectorAll("details.op")) {
    op.hidden = q !== "" && !op.dataset.search.includes(q);
  }
}

async function start() {
  try {
    const res = await fetch("/api/openapi.json");
    if (!res.ok) throw new Error(`the spec answered ${res.status}`);
    spec = await res.json();
    render();
  } catch (e) {
    document.getElementById("operations").replaceChildren(el("p", { class: "error" }, `Could not load the spec: ${e.message}`));
  }
  document.getElementById("filter").addEventListener("input", (ev) => filter(ev.target.value));
}

start();
