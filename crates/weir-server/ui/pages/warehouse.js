// /ui/warehouse: the warehouse's tables with their row counts, and a query box whose rows show
// as a table. The warehouse is the server's (`--warehouse`), else a URL remembered here.
import { el, duration, errorBox } from "../dom.js";
import { api } from "../api.js";
import { pageCss, enc } from "./flows.js";

const URL_KEY = "weir.warehouse.url";
const SQL_KEY = "weir.warehouse.sql";
const MAX_ROWS_SHOWN = 1000;

function cell(v) {
  if (v === null || v === undefined) return el("td", { class: "null" }, "NULL");
  if (typeof v === "number") return el("td", { class: "num" }, String(v));
  return el("td", {}, typeof v === "string" ? v : JSON.stringify(v));
}

export async function render(main) {
  pageCss();
  let configured = null;
  try {
    configured = (await api("warehouse")).url;
  } catch {
    configured = null;
  }
  let url = configured || localStorage.getItem(URL_KEY) || "";
  // The server's URL is shown masked; the server fills it in when `url` is left out.
  const useServer = () => configured && url === configured;

  const urlInput = el("input", { type: "text", value: url, placeholder: "jdbc:duckdb:/path/to/warehouse.duckdb", "aria-label": "Warehouse URL", "data-testid": "warehouse-url", class: "grow mono", spellcheck: "false", readonly: configured ? true : null });
  const urlForm = el("form", { class: "row grow", onsubmit: (e) => { e.preventDefault(); url = urlInput.value.trim(); localStorage.setItem(URL_KEY, url); loadTables(); } },
    urlInput, configured ? el("span", { class: "hint" }, "set by weir server --warehouse") : el("button", { type: "submit" }, "Connect"));
  const tables = el("div", { class: "panel tables", "data-testid": "warehouse-tables", "aria-label": "Tables" });
  const sql = el("textarea", { class: "code", rows: 6, "aria-label": "SQL", "data-testid": "warehouse-sql", spellcheck: "false", placeholder: "SELECT …" }, localStorage.getItem(SQL_KEY) || "");
  const runBtn = el("button", { type: "button", class: "primary", "data-testid": "warehouse-run" }, "Run");
  const meta = el("div", { class: "result-meta", "data-testid": "warehouse-meta", "aria-live": "polite" });
  const result = el("div", { class: "result", "data-testid": "warehouse-result" });
  main.append(
    el("div", { class: "page-head" }, el("h1", {}, "Warehouse"), urlForm),
    el("div", { class: "wh" },
      el("div", {}, el("div", { class: "row", style: "justify-content:space-between;margin-bottom:6px" }, el("strong", {}, "Tables"),
        el("button", { type: "button", class: "ghost", "aria-label": "Refresh tables", "data-testid": "warehouse-refresh", onclick: () => loadTables() }, "↻")), tables),
      el("div", {},
        sql,
        el("div", { class: "row", style: "justify-content:space-between;margin-top:6px" },
          el("span", { class: "hint" }, el("kbd", {}, "Ctrl"), " + ", el("kbd", {}, "Enter"), " runs the query"), runBtn),
        meta, result)));

  async function loadTables() {
    if (!url) {
      tables.replaceChildren(el("p", { class: "muted", style: "padding:10px;margin:0" }, "Give the warehouse's URL above."));
      return;
    }
    tables.replaceChildren(el("p", { class: "muted", style: "padding:10px;margin:0" }, "Loading…"));
    try {
      const ts = await api(useServer() ? "warehouse/tables" : `warehouse/tables?url=${enc(url)}`);
      tables.replaceChildren(...(ts.length ? ts.map((t) => {
        const name = t.schema === "main" ? t.name : `${t.schema}.${t.name}`;
        const quoted = t.schema === "main" ? quote(t.name) : `${quote(t.schema)}.${quote(t.name)}`;
        return el("button", { type: "button", "data-testid": "warehouse-table", "data-table": `${t.schema}.${t.name}`, title: `Query ${name}`,
          onclick: () => { sql.value = `SELECT * FROM ${quoted} LIMIT 100`; run(); } },
          el("span", {}, name), el("span", { class: "rows", "data-testid": "warehouse-table-rows" }, t.rows.toLocaleString()));
      }) : [el("p", { class: "muted", style: "padding:10px;margin:0" }, "No tables yet.")]));
    } catch (e) {
      tables.replaceChildren(el("div", { style: "padding:8px" }, errorBox(e)));
    }
  }

  function quote(id) {
    return /^[a-z_][a-z0-9_]*$/.test(id) ? id : `"${id.replace(/"/g, '""')}"`;
  }

  let running = false;
  async function run() {
    const text = sql.value.trim();
    if (!text || running) return;
    if (!url) { urlInput.focus(); return; }
    localStorage.setItem(SQL_KEY, sql.value);
    running = true;
    runBtn.disabled = true;
    meta.textContent = "Running…";
    const t0 = performance.now();
    try {
      // The configured URL is masked in what the server shows; ask for the real one by omission.
      const target = useServer() ? await serverUrl() : url;
      const r = await api("warehouse/query", { method: "POST", body: { url: target, sql: text } });
      const ms = performance.now() - t0;
      const rows = r.rows || [];
      meta.replaceChildren(el("span", { "data-testid": "warehouse-row-count" }, `${rows.length.toLocaleString()} row${rows.length === 1 ? "" : "s"}`),
        ` · ${duration(ms)}`, rows.length > MAX_ROWS_SHOWN ? ` · first ${MAX_ROWS_SHOWN.toLocaleString()} shown` : "");
      result.replaceChildren(r.columns && r.columns.length ? el("table", { class: "grid", "data-testid": "warehouse-result-table" },
        el("thead", {}, el("tr", {}, r.columns.map((c) => el("th", {}, c)))),
        el("tbody", {}, rows.slice(0, MAX_ROWS_SHOWN).map((row) => el("tr", {}, row.map(cell))))) : el("p", { class: "muted" }, "Done; no rows."));
      if (/^\s*(create|drop|alter|insert|delete|update|copy)/i.test(text)) loadTables();
    } catch (e) {
      meta.textContent = `Failed after ${duration(performance.now() - t0)}`;
      result.replaceChildren(errorBox(e));
    }
    running = false;
    runBtn.disabled = false;
  }

  // The server's own URL: the query endpoint needs it in full; it is masked only when it holds a
  // password, which DuckDB URLs do not.
  async function serverUrl() {
    return configured;
  }

  runBtn.addEventListener("click", run);
  sql.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
  });
  loadTables();
}
