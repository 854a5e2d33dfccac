// Small DOM helpers shared by every part of the emulator page.
//
// Everything is built with createElement/textContent (never innerHTML): message texts come
// from the service and from what a person typed, and must never become markup.

/**
 * el("div", {class: "x", dataset: {testid: "y"}, onclick: fn}, child, "text", [more])
 * Attributes named on* become listeners; `dataset`, `style` (object) and `hidden` are set as
 * properties; null/undefined/false attributes and children are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(node.style, value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "testid") {
      node.dataset.testid = value;
    } else if (key in node && typeof node[key] !== "function" && key !== "list") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

/** Japanese first, English smaller after it (hidden by the ja/en toggle via CSS). */
export function bi(ja, en) {
  const frag = document.createDocumentFragment();
  frag.append(el("span", { class: "ja" }, ja));
  if (en) frag.append(el("small", { class: "en" }, en));
  return frag;
}

// -- keyed, incremental rendering -------------------------------------------------------

/**
 * Make `container`'s children match `items` ([{key, hash, build: () => Node}]) while
 * touching as little as possible: a child whose key and hash are unchanged is kept as it is,
 * so a focused control, a half-typed value or an open <select> inside it survives a poll.
 */
export function reconcile(container, items) {
  const existing = new Map();
  for (const child of Array.from(container.children)) {
    if (child.dataset.key !== undefined) existing.set(child.dataset.key, child);
    else child.remove();
  }
  let cursor = container.firstElementChild;
  const wanted = new Set();
  for (const item of items) {
    wanted.add(item.key);
    let node = existing.get(item.key);
    if (!node || node.dataset.hash !== String(item.hash)) {
      const fresh = item.build();
      fresh.dataset.key = item.key;
      fresh.dataset.hash = String(item.hash);
      if (node === cursor) cursor = fresh;
      if (node) node.replaceWith(fresh);
      existing.set(item.key, fresh);
      node = fresh;
    }
    if (node !== cursor) container.insertBefore(node, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const [key, node] of existing) if (!wanted.has(key)) node.remove();
}

/** A cheap, stable string hash (djb2) for "did this content change?" checks. */
export function hashOf(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? null);
  let h = 5381;
  for (let i = 0; i < text.length; i++) h = ((h << 5) + h + text.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36) + ":" + text.length;
}

/** Whether a scrolled list is (nearly) at its bottom, so new items may scroll it there. */
export function nearBottom(node, slack = 60) {
  return node.scrollHeight - node.scrollTop - node.clientHeight < slack;
}

// -- text ------------------------------------------------------------------------------

const URL_RE = /https?:\/\/[^\s<>"'「」（）()、。]+/g;

/** Plain text with line breaks kept (by CSS pre-wrap) and URLs as links opening a new tab. */
export function linkified(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of String(text ?? "").matchAll(URL_RE)) {
    if (match.index > last) frag.append(text.slice(last, match.index));
    frag.append(externalLink(match[0], match[0]));
    last = match.index + match[0].length;
  }
  if (last < String(text ?? "").length) frag.append(String(text).slice(last));
  return frag;
}

export function externalLink(href, label) {
  const safe = /^(https?:|mailto:|tel:)/i.test(href) ? href : "#";
  return el("a", { href: safe, target: "_blank", rel: "noopener noreferrer" }, label);
}

// -- time (always shown in Japan time, whatever the browser's zone) ----------------------

const JST = "Asia/Tokyo";
const hhmm = new Intl.DateTimeFormat("ja-JP", {
  timeZone: JST,
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});
const dayLabel = new Intl.DateTimeFormat("ja-JP", {
  timeZone: JST,
  month: "numeric",
  day: "numeric",
  weekday: "short",
});
const fullLabel = new Intl.DateTimeFormat("ja-JP", {
  timeZone: JST,
  year: "numeric",
  month: "numeric",
  day: "numeric",
  weekday: "short",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});
const ymd = new Intl.DateTimeFormat("en-CA", {
  timeZone: JST,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
});

export const jst = {
  time: (iso) => (iso ? hhmm.format(new Date(iso)) : ""),
  day: (iso) => (iso ? dayLabel.format(new Date(iso)) : ""),
  full: (iso) => (iso ? fullLabel.format(new Date(iso)) : ""),
  /** "YYYY-MM-DD" of the Japan calendar day, for grouping chat items by day. */
  dateKey: (iso) => (iso ? ymd.format(new Date(iso)) : ""),
};

// -- toasts ----------------------------------------------------------------------------

/** A short message at the bottom of the page; errors stay a little longer. */
export function toast(message, kind = "error") {
  const host = document.getElementById("toasts");
  if (!host) return;
  const node = el(
    "div",
    { class: `toast toast-${kind}`, testid: "toast", role: "status" },
    message,
  );
  host.append(node);
  setTimeout(() => node.remove(), kind === "error" ? 7000 : 3500);
}
