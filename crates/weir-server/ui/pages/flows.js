// /ui/flows: every deployed flow, grouped by namespace, with its triggers, its last execution
// and its next scheduled date. Also exports small helpers the flow, KV and warehouse pages share.
import { el, stateBadge, when, errorBox } from "../dom.js";
import { api } from "../api.js";

/** Adds pages.css once (index.html belongs to the shell). */
export function pageCss() {
  if (document.getElementById("pages-css")) return;
  document.head.append(el("link", { id: "pages-css", rel: "stylesheet", href: "/ui/assets/pages.css" }));
}

// Inline SVG paths (24×24, stroked): no icon font, no emoji font needed.
const ICON_PATHS = {
  Schedule: "M12 7v5l3 2M12 3a9 9 0 1 0 0 18a9 9 0 0 0 0-18z",
  ScheduleOnDates: "M4 6h16v14H4zM4 10h16M8 3v5M16 3v5",
  Flow: "M4 12h12M12 6l6 6-6 6",
  Webhook: "M13 3L5 14h6l-1 7 8-11h-6z",
  other: "M12 8a4 4 0 1 0 0 8a4 4 0 0 0 0-8z",
};

export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [k, v] of Object.entries({ viewBox: "0 0 24 24", width: 12, height: 12, fill: "none", stroke: "currentColor", "stroke-width": 2.2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", class: "ico" })) svg.setAttribute(k, v);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICON_PATHS[name] || ICON_PATHS.other);
  svg.append(path);
  return svg;
}

/** `io.kestra.plugin.core.trigger.Schedule` → `Schedule`. */
export function shortType(type) {
  return String(type || "").split(".").pop();
}

export function triggerChip(t, disabled) {
  const name = shortType(t.type);
  return el("span", { class: `t-chip${disabled ? " off" : ""}`, title: `${t.id} (${t.type})${disabled ? ", disabled" : ""}`, "data-testid": "trigger-chip" },
    icon(name), name);
}

/** "in 3h", "2d ago": a short relative time beside an absolute one. */
export function relative(iso) {
  if (!iso) return "";
  const d = (new Date(iso).getTime() - Date.now()) / 1000;
  const a = Math.abs(d);
  const s = a < 60 ? `${Math.round(a)}s` : a < 3600 ? `${Math.round(a / 60)}m` : a < 86400 ? `${Math.round(a / 3600)}h` : `${Math.round(a / 86400)}d`;
  return d >= 0 ? `in ${s}` : `${s} ago`;
}

export function timeCell(iso) {
  if (!iso) return el("span", { class: "muted" }, "—");
  return el("time", { datetime: iso, title: when(iso), class: "when" }, relative(iso));
}

export const enc = encodeURIComponent;

async function lastExecution(ns, id) {
  const r = await api(`executions/search?namespace=${enc(ns)}&flowId=${enc(id)}&size=5`);
  return (r.results || []).find((e) => e.namespace === ns) || null;
}

export async function render(main, _params, query) {
  pageCss();
  const search = el("input", { type: "search", placeholder: "Search flows…", "aria-label": "Search flows", "data-testid": "flows-search", value: query.get("q") || "" });
  const list = el("div", { "data-testid": "flows-list", "aria-live": "polite" }, el("p", { class: "muted" }, "Loading…"));
  main.append(
    el("div", { class: "page-head" },
      el("h1", {}, "Flows"),
      search,
      el("a", { class: "button primary", href: "/ui/flows/new", "data-testid": "new-flow" }, "+ New flow")),
    list);

  let flows, triggers;
  try {
    [flows, triggers] = await Promise.all([api("flows/search?size=10000"), api("triggers/search?size=10000")]);
  } catch (e) {
    list.replaceChildren(errorBox(e));
    return;
  }
  const ctx = new Map();
  for (const t of triggers.results || []) {
    const c = t.triggerContext;
    ctx.set(`${c.namespace}\u0000${c.flowId}\u0000${c.triggerId}`, c);
  }
  const rows = new Map();
  const last = new Map();

  function draw() {
    const q = search.value.trim().toLowerCase();
    const shown = (flows.results || []).filter((f) => !q || f.id.toLowerCase().includes(q) || f.namespace.toLowerCase().includes(q) ||
      (f.triggers || []).some((t) => t.id.toLowerCase().includes(q) || shortType(t.type).toLowerCase().includes(q)));
    if (!shown.length) {
      list.replaceChildren(el("div", { class: "empty" }, (flows.results || []).length ? `No flow matches “${search.value}”.` : "No flows yet. Create one, or start the server with --flows DIR."));
      return;
    }
    const groups = new Map();
    for (const f of shown.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.id.localeCompare(b.id))) {
      if (!groups.has(f.namespace)) groups.set(f.namespace, []);
      groups.get(f.namespace).push(f);
    }
    list.replaceChildren(...[...groups].map(([ns, fs]) =>
      el("section", { class: "ns-group", "data-testid": "namespace-group", "data-namespace": ns },
        el("h2", {}, ns, el("span", { class: "count" }, `${fs.length} flow${fs.length === 1 ? "" : "s"}`)),
        el("div", { class: "scroll" }, el("table", { class: "grid fixed" },
          el("thead", {}, el("tr", {},
            el("th", { class: "c-flow" }, "Flow"), el("th", { class: "c-trig" }, "Triggers"), el("th", { class: "c-last" }, "Last execution"),
            el("th", { class: "c-next hide-narrow" }, "Next run"))),
          el("tbody", {}, fs.map(row)))))));
  }

  function row(f) {
    const key = `${f.namespace}.${f.id}`;
    let next = null;
    for (const t of f.triggers || []) {
      const c = ctx.get(`${f.namespace}\u0000${f.id}\u0000${t.id}`);
      if (c && !c.disabled && c.nextExecutionDate && (!next || c.nextExecutionDate < next)) next = c.nextExecutionDate;
    }
    const lastCell = el("td", { "data-testid": "flow-last-execution" });
    fillLast(lastCell, last.get(key));
    const tr = el("tr", { "data-testid": "flow-row", "data-flow": key },
      el("td", {}, el("a", { class: "flow-id", href: `/ui/flows/${enc(f.namespace)}/${enc(f.id)}` }, f.id),
        f.disabled ? el("span", { class: "label", style: "margin-left:6px" }, "disabled") : null,
        f.description ? el("div", { class: "hint", style: "white-space:normal;max-width:420px" }, f.description.split("\n")[0]) : null),
      el("td", {}, (f.triggers || []).length ? (f.triggers || []).map((t) => {
        const c = ctx.get(`${f.namespace}\u0000${f.id}\u0000${t.id}`);
        return triggerChip(t, t.disabled || (c && c.disabled));
      }) : el("span", { class: "muted" }, "—")),
      lastCell,
      el("td", { class: "hide-narrow", "data-testid": "flow-next-run" }, timeCell(next)));
    rows.set(key, lastCell);
    return tr;
  }

  function fillLast(cell, e) {
    if (e === undefined) { cell.replaceChildren(el("span", { class: "muted" }, "…")); return; }
    if (!e) { cell.replaceChildren(el("span", { class: "muted" }, "never")); return; }
    cell.replaceChildren(el("a", { href: `/ui/executions/${enc(e.namespace)}/${enc(e.flowId)}/${enc(e.id)}`, class: "row", style: "gap:6px;display:inline-flex" },
      stateBadge(e.state.current), timeCell(e.state.startDate)));
  }

  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const u = new URL(location.href);
      if (search.value) u.searchParams.set("q", search.value); else u.searchParams.delete("q");
      history.replaceState(null, "", u.pathname + u.search);
      draw();
    }, 80);
  });
  draw();

  // Last executions: a few at a time, so a long list does not flood the server.
  const todo = (flows.results || []).map((f) => f);
  let alive = true;
  async function worker() {
    while (alive && todo.length) {
      const f = todo.shift();
      const key = `${f.namespace}.${f.id}`;
      let e = null;
      try { e = await lastExecution(f.namespace, f.id); } catch { e = null; }
      last.set(key, e);
      const cell = rows.get(key);
      if (cell && cell.isConnected) fillLast(cell, e);
    }
  }
  Promise.all([worker(), worker(), worker(), worker()]);
  return () => { alive = false; clearTimeout(timer); };
}
