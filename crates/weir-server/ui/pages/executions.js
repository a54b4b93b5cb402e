// The executions list: filters kept in the address (bookmarkable), one page fetched at a time,
// refreshed every 2 s while the tab is visible by updating the rows in place.

import { api } from "../api.js";
import { go as nav } from "../app.js";
import { el, duration, errorBox } from "../dom.js";
import { useCss, esc, execHref, fmtTime, liveDuration } from "./exec-common.js";

const STATES = ["CREATED", "QUEUED", "RUNNING", "RETRYING", "PAUSED", "RESTARTED", "KILLING", "SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"];
const SIZES = [25, 50, 100];
const POLL_MS = 2000;

function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const off = d.getTimezoneOffset() * 60000;
  return new Date(d.getTime() - off).toISOString().slice(0, 16);
}

/** One row as HTML; `sig` tells whether a later poll changed it. */
function rowHtml(e) {
  const st = e.state?.current || "";
  const labels = (e.labels || []).map((l) => `<span class="label">${esc(l.key)}:${esc(l.value)}</span>`).join("");
  return `<tr data-id="${esc(e.id)}" data-testid="execution-row" data-state="${esc(st)}">` +
    `<td><span class="state s-${esc(st.toLowerCase())}">${esc(st)}</span></td>` +
    `<td class="id"><a href="${esc(execHref(e))}" data-testid="execution-link">${esc(e.id)}</a></td>` +
    `<td><a href="/ui/flows/${encodeURIComponent(e.namespace)}/${encodeURIComponent(e.flowId)}"><span class="muted">${esc(e.namespace)}.</span>${esc(e.flowId)}</a></td>` +
    `<td class="num hide-narrow">${esc(fmtTime(e.state?.startDate))}</td>` +
    `<td class="num" data-col="duration">${esc(liveDuration(e.state))}</td>` +
    `<td class="hide-narrow"><span class="labels">${labels}</span></td></tr>`;
}

function sig(e) {
  return `${e.state?.current}|${e.state?.endDate || ""}|${(e.labels || []).length}`;
}

export async function render(main, _params, query) {
  await useCss("executions.css");
  const q = (k) => query.get(k) || "";
  const page = Math.max(1, parseInt(q("page"), 10) || 1);
  const size = SIZES.includes(parseInt(q("size"), 10)) ? parseInt(q("size"), 10) : 25;

  const field = (label, input) => el("label", {}, label, input);
  const ns = el("input", { name: "namespace", value: q("namespace"), placeholder: "any", "data-testid": "filter-namespace", autocomplete: "off" });
  const flow = el("input", { name: "flowId", value: q("flowId"), placeholder: "any", "data-testid": "filter-flow", autocomplete: "off" });
  const state = el("select", { name: "state", "data-testid": "filter-state" },
    el("option", { value: "" }, "any"), STATES.map((s) => el("option", { value: s, selected: q("state") === s }, s)));
  const label = el("input", { name: "labels", value: q("labels"), placeholder: "key:value", "data-testid": "filter-label", autocomplete: "off" });
  const from = el("input", { type: "datetime-local", name: "startDate", value: toLocalInput(q("startDate")), "data-testid": "filter-start" });
  const to = el("input", { type: "datetime-local", name: "endDate", value: toLocalInput(q("endDate")), "data-testid": "filter-end" });
  const sizeSel = el("select", { name: "size", "data-testid": "page-size" }, SIZES.map((s) => el("option", { value: s, selected: s === size }, `${s} / page`)));
  const form = el("form", { class: "filters", role: "search", "data-testid": "execution-filters" },
    field("Namespace", ns), field("Flow", flow), field("State", state), field("Label", label),
    field("From", from), field("To", to),
    el("button", { type: "submit", class: "primary" }, "Filter"),
    el("button", { type: "button", class: "ghost", "data-testid": "filter-clear", onclick: () => go({}) }, "Clear"));

  const tbody = el("tbody");
  const table = el("table", { class: "grid", "data-testid": "executions-table" },
    el("thead", {}, el("tr", {}, el("th", {}, "State"), el("th", {}, "Execution"), el("th", {}, "Flow"),
      el("th", { class: "num hide-narrow" }, "Start"), el("th", { class: "num" }, "Duration"), el("th", { class: "hide-narrow" }, "Labels"))),
    tbody);
  const total = el("span", { class: "count", "data-testid": "executions-total" }, "");
  const prev = el("a", { class: "button", "data-testid": "page-prev" }, "← Previous");
  const next = el("a", { class: "button", "data-testid": "page-next" }, "Next →");
  const status = el("div", { role: "status", "aria-live": "polite" });

  main.append(
    el("div", { class: "page-head" }, el("h1", {}, "Executions")),
    form, status, el("div", { class: "scroll" }, table),
    el("div", { class: "list-foot" }, total, el("div", { class: "row" }, sizeSel, prev, next)),
  );

  function params(over = {}) {
    const p = new URLSearchParams();
    const vals = {
      namespace: ns.value.trim(), flowId: flow.value.trim(), state: state.value, labels: label.value.trim(),
      startDate: from.value ? new Date(from.value).toISOString() : "",
      endDate: to.value ? new Date(to.value).toISOString() : "",
      size: String(sizeSel.value), page: "1", ...over,
    };
    for (const [k, v] of Object.entries(vals)) if (v && !(k === "page" && v === "1") && !(k === "size" && v === "25")) p.set(k, v);
    return p;
  }
  function go(over) {
    const p = over && Object.keys(over).length === 0 ? new URLSearchParams() : params(over);
    const s = p.toString();
    nav(`/ui/executions${s ? "?" + s : ""}`);
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); go(); });
  state.addEventListener("change", () => go());
  sizeSel.addEventListener("change", () => go());

  const apiQuery = new URLSearchParams();
  for (const k of ["namespace", "flowId", "state", "labels", "startDate", "endDate"]) if (q(k)) apiQuery.set(k, q(k));
  apiQuery.set("page", page);
  apiQuery.set("size", size);

  let rows = new Map(); // id → [tr, sig]
  let order = "";
  let timer = null;
  let stopped = false;

  async function load(first) {
    const t0 = performance.now();
    let res;
    try {
      res = await api(`executions/search?${apiQuery}`);
    } catch (e) {
      status.replaceChildren(errorBox(e));
      return;
    }
    if (stopped) return;
    status.replaceChildren();
    const results = res.results || [];
    const ids = results.map((e) => e.id).join(",");
    if (first || ids !== order) {
      // One DOM build for the whole page of rows.
      tbody.innerHTML = results.length ? results.map(rowHtml).join("") : `<tr><td colspan="6" class="empty" data-testid="executions-empty">No execution matches.</td></tr>`;
      rows = new Map();
      for (const tr of tbody.children) if (tr.dataset.id) rows.set(tr.dataset.id, tr);
      results.forEach((e) => rows.get(e.id) && (rows.get(e.id)._sig = sig(e)));
      order = ids;
    } else {
      // The same rows: change only those that changed, keeping scroll, focus and selection.
      for (const e of results) {
        const tr = rows.get(e.id);
        const s = sig(e);
        if (tr._sig !== s) {
          const tmp = document.createElement("tbody");
          tmp.innerHTML = rowHtml(e);
          const fresh = tmp.firstChild;
          fresh._sig = s;
          const hadFocus = tr.contains(document.activeElement);
          tr.replaceWith(fresh);
          rows.set(e.id, fresh);
          if (hadFocus) fresh.querySelector("a")?.focus();
        } else if (!e.state?.endDate) {
          const d = tr.querySelector('[data-col="duration"]');
          const v = liveDuration(e.state);
          if (d.textContent !== v) d.textContent = v;
        }
      }
    }
    const n = res.total ?? results.length;
    const a = n ? (page - 1) * size + 1 : 0;
    const b = (page - 1) * size + results.length;
    total.textContent = `${a.toLocaleString()}–${b.toLocaleString()} of ${n.toLocaleString()}`;
    total.dataset.total = n;
    const last = Math.max(1, Math.ceil(n / size));
    setPager(prev, page > 1 ? page - 1 : null);
    setPager(next, page < last ? page + 1 : null);
    const ms = performance.now() - t0;
    table.dataset.renderMs = ms.toFixed(1);
    if (first) table.dataset.firstRenderMs = ms.toFixed(1);
    table.dataset.ready = "true";
  }
  function setPager(a, p) {
    if (p) {
      const s = params({ page: String(p), namespace: q("namespace"), flowId: q("flowId"), state: q("state"), labels: q("labels"), startDate: q("startDate"), endDate: q("endDate") }).toString();
      a.setAttribute("href", `/ui/executions${s ? "?" + s : ""}`);
      a.removeAttribute("aria-disabled");
    } else {
      a.removeAttribute("href");
      a.setAttribute("aria-disabled", "true");
    }
  }
  function schedule() {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(async () => {
      if (document.visibilityState === "visible") await load(false);
      schedule();
    }, POLL_MS);
  }
  const onVisible = () => { if (document.visibilityState === "visible" && !stopped) load(false); };
  document.addEventListener("visibilitychange", onVisible);

  await load(true);
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
