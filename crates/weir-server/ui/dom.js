// Small DOM helpers shared by the pages: no framework, no build step.

/** `el("a", {href: "/x", class: "c"}, "text", child…)`; `on*` attributes become listeners. */
export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") n.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(n.dataset, v);
    else n.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

/** A state as a coloured badge. */
export function stateBadge(state) {
  return el("span", { class: `state s-${String(state || "").toLowerCase()}` }, state || "");
}

/** `PT1.5S`, or milliseconds, as `1.5s`, `2m 03s`. */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** Labels as chips: `[{key, value}]` or `{k: v}`. */
export function labels(ls) {
  const pairs = Array.isArray(ls) ? ls.map((l) => [l.key, l.value]) : Object.entries(ls || {});
  return el("span", { class: "labels" }, pairs.map(([k, v]) => el("span", { class: "label" }, `${k}:${v}`)));
}

export function errorBox(e) {
  const body = e && e.body;
  return el("div", { class: "error", role: "alert" }, (body && body.message) || String(e && e.message || e));
}
