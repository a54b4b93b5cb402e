// /ui/kv?namespace=…: a namespace's KV entries — list with type, value preview and expiry;
// add, edit (type, value, TTL) and delete.
import { el, when, errorBox } from "../dom.js";
import { api, ApiError } from "../api.js";
import { pageCss, timeCell, enc } from "./flows.js";

const TYPES = ["STRING", "NUMBER", "BOOLEAN", "JSON"];

/** PUT with the `ttl` header, which api() cannot send. */
async function putKey(ns, key, json, ttl) {
  const headers = { "Content-Type": "application/json" };
  const t = localStorage.getItem("weir.token");
  if (t) headers.Authorization = `Bearer ${t}`;
  if (ttl) headers.ttl = ttl;
  const res = await fetch(`/api/v1/namespaces/${enc(ns)}/kv/${enc(key)}`, { method: "PUT", headers, body: json });
  if (res.status === 401) return api(`namespaces/${enc(ns)}/kv`).then(() => putKey(ns, key, json, ttl));
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { body = null; }
    throw new ApiError(res.status, body);
  }
}

function preview(v) {
  if (v === undefined) return el("span", { class: "muted" }, "…");
  const text = typeof v.value === "string" ? v.value : JSON.stringify(v.value);
  return el("span", { class: "preview", title: text.length > 80 ? text.slice(0, 2000) : null }, text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** The body for a value of a type, or an error message. */
function encode(type, text) {
  switch (type) {
    case "NUMBER": {
      const n = Number(text);
      if (text.trim() === "" || Number.isNaN(n)) throw new Error("Not a number.");
      return String(n);
    }
    case "BOOLEAN": return text === "true" ? "true" : "false";
    case "JSON": {
      let v;
      try { v = JSON.parse(text); } catch (e) { throw new Error(`Not JSON: ${e.message}`); }
      return JSON.stringify(v);
    }
    default: return JSON.stringify(text);
  }
}

export async function render(main, _params, query) {
  pageCss();
  const remembered = localStorage.getItem("weir.kv.namespace") || "";
  let ns = query.get("namespace") || remembered;
  const nsInput = el("input", { type: "text", list: "kv-namespaces", value: ns, placeholder: "namespace", "aria-label": "Namespace", "data-testid": "kv-namespace", spellcheck: "false" });
  const datalist = el("datalist", { id: "kv-namespaces" });
  const addBtn = el("button", { type: "button", class: "primary", "data-testid": "kv-add" }, "+ Add entry");
  const list = el("div", { "aria-live": "polite" });
  main.append(
    el("div", { class: "page-head" }, el("h1", {}, "KV store"),
      el("form", { class: "row", onsubmit: (e) => { e.preventDefault(); choose(nsInput.value.trim()); } },
        nsInput, datalist, el("button", { type: "submit" }, "Open")),
      addBtn),
    list);

  api("flows/search?size=10000").then((r) => {
    const set = new Set((r.results || []).map((f) => f.namespace));
    for (const n of [...set].sort()) datalist.append(el("option", { value: n }));
    if (!ns && set.size) choose([...set].sort()[0], true);
  }).catch(() => {});
  nsInput.addEventListener("change", () => choose(nsInput.value.trim()));

  function choose(n, replace = false) {
    if (!n) return;
    ns = n;
    nsInput.value = n;
    localStorage.setItem("weir.kv.namespace", n);
    const url = `/ui/kv?namespace=${enc(n)}`;
    if (replace) history.replaceState(null, "", url); else if (location.pathname + location.search !== url) history.pushState(null, "", url);
    load();
  }

  async function load() {
    if (!ns) {
      list.replaceChildren(el("div", { class: "empty" }, "Choose a namespace."));
      return;
    }
    let keys;
    try {
      keys = await api(`namespaces/${enc(ns)}/kv`);
    } catch (e) {
      list.replaceChildren(errorBox(e));
      return;
    }
    if (!keys.length) {
      list.replaceChildren(el("div", { class: "empty", "data-testid": "kv-empty" }, `No entries in ${ns}.`));
      return;
    }
    keys.sort((a, b) => a.key.localeCompare(b.key));
    const values = new Map();
    const rows = keys.map((k) => {
      const typeCell = el("td", {}, el("span", { class: "muted" }, "…"));
      const valueCell = el("td", { class: "wrap" }, preview(undefined));
      const tr = el("tr", { "data-testid": "kv-row", "data-key": k.key },
        el("td", { class: "mono" }, k.key, k.description ? el("div", { class: "hint" }, k.description) : null),
        typeCell, valueCell,
        el("td", { class: "hide-narrow" }, k.expirationDate ? el("span", { title: when(k.expirationDate) }, timeCell(k.expirationDate)) : el("span", { class: "muted" }, "never")),
        el("td", { class: "hide-narrow" }, timeCell(k.updateDate)),
        el("td", { class: "num" },
          el("button", { type: "button", class: "ghost", "data-testid": "kv-edit", "aria-label": `Edit ${k.key}`, onclick: () => edit(k.key, values.get(k.key), k) }, "Edit"),
          el("button", { type: "button", class: "ghost danger", "data-testid": "kv-delete", "aria-label": `Delete ${k.key}`, onclick: () => remove(k.key) }, "Delete")));
      api(`namespaces/${enc(ns)}/kv/${enc(k.key)}`).then((v) => {
        values.set(k.key, v);
        typeCell.replaceChildren(el("span", { class: "type-tag", "data-testid": "kv-type" }, v.type));
        valueCell.replaceChildren(preview(v));
        valueCell.dataset.testid = "kv-value";
      }).catch(() => valueCell.replaceChildren(el("span", { class: "muted" }, "expired")));
      return tr;
    });
    list.replaceChildren(el("div", { class: "scroll" }, el("table", { class: "grid", "data-testid": "kv-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Key"), el("th", {}, "Type"), el("th", {}, "Value"),
        el("th", { class: "hide-narrow" }, "Expires"), el("th", { class: "hide-narrow" }, "Updated"), el("th", {}, ""))),
      el("tbody", {}, rows))));
  }

  async function remove(key) {
    if (!confirm(`Delete ${key} from ${ns}?`)) return;
    try {
      await api(`namespaces/${enc(ns)}/kv/${enc(key)}`, { method: "DELETE" });
    } catch (e) {
      alert(e.message);
    }
    load();
  }

  function edit(key, current, meta) {
    const creating = key === undefined;
    const keyInput = el("input", { type: "text", name: "key", required: true, value: key || "", readonly: creating ? null : true, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]*", "data-testid": "kv-key", spellcheck: "false" });
    const type = el("select", { name: "type", "data-testid": "kv-type-select" }, TYPES.map((t) => el("option", { value: t, selected: current ? current.type === t : t === "STRING" }, t)));
    const initial = current ? (typeof current.value === "string" ? current.value : JSON.stringify(current.value, null, 2)) : "";
    const valueText = el("textarea", { name: "value", class: "code", rows: 4, "data-testid": "kv-value-input", spellcheck: "false" }, initial);
    const valueBool = el("select", { name: "bool", "data-testid": "kv-value-bool" }, el("option", { value: "true", selected: current && current.value === true }, "true"), el("option", { value: "false", selected: current && current.value === false }, "false"));
    const valueBox = el("div");
    const ttl = el("input", { type: "text", name: "ttl", placeholder: "PT1H, P7D… (empty: never)", "data-testid": "kv-ttl", spellcheck: "false" });
    const err = el("div");
    const showValue = () => valueBox.replaceChildren(type.value === "BOOLEAN" ? valueBool : valueText);
    type.addEventListener("change", showValue);
    showValue();
    const save = el("button", { type: "submit", class: "primary", "data-testid": "kv-save" }, "Save");
    const form = el("form", { class: "stack" },
      el("label", {}, el("span", {}, "Key"), keyInput),
      el("label", {}, el("span", {}, "Type"), type),
      el("div", { class: "field" }, el("span", {}, "Value"), valueBox),
      el("label", {}, el("span", {}, "Time to live"), ttl,
        meta && meta.expirationDate ? el("span", { class: "hint" }, `Expires ${when(meta.expirationDate)}; saving without a TTL keeps it forever.`) : el("span", { class: "hint" }, "ISO 8601 duration.")),
      err,
      el("div", { class: "actions" }, el("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), save));
    const dlg = el("dialog", { "data-testid": "kv-dialog", "aria-label": creating ? "Add entry" : `Edit ${key}` }, el("h2", {}, creating ? `New entry in ${ns}` : `Edit ${key}`), form);
    dlg.addEventListener("close", () => dlg.remove());
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      err.replaceChildren();
      let body;
      try {
        body = encode(type.value, type.value === "BOOLEAN" ? valueBool.value : valueText.value);
      } catch (x) {
        err.replaceChildren(errorBox(x));
        return;
      }
      save.disabled = true;
      try {
        await putKey(ns, keyInput.value.trim(), body, ttl.value.trim());
        dlg.close();
        load();
      } catch (x) {
        err.replaceChildren(errorBox(x));
        save.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    (creating ? keyInput : valueBox.firstChild).focus();
  }

  addBtn.addEventListener("click", () => {
    if (!ns) { nsInput.focus(); return; }
    edit(undefined, null, null);
  });
  load();
}
