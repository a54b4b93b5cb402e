// Helpers shared by the executions list and an execution's page.

import { duration } from "../dom.js";

const loaded = new Map();

/** Loads a stylesheet of the UI once; resolves when it applies (so pages don't flash). */
export function useCss(name) {
  if (!loaded.has(name)) {
    loaded.set(name, new Promise((resolve) => {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = `/ui/assets/${name}`;
      link.onload = link.onerror = () => resolve();
      document.head.append(link);
    }));
  }
  return loaded.get(name);
}

export const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

export function execHref(e, tab = "") {
  const p = `/ui/executions/${encodeURIComponent(e.namespace)}/${encodeURIComponent(e.flowId)}/${encodeURIComponent(e.id)}`;
  return tab ? `${p}/${tab}` : p;
}

const fmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : fmt.format(d);
}

/** The duration of a state: ended, or so far. */
export function liveDuration(st) {
  if (!st || !st.startDate) return "";
  const end = st.endDate ? Date.parse(st.endDate) : Date.now();
  return duration(end - Date.parse(st.startDate)) || "0ms";
}
