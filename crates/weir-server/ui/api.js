// The UI speaks only the public REST API (/api/v1), like any script would.

const TOKEN_KEY = "weir.token";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  const t = localStorage.getItem(TOKEN_KEY);
  if (t) h["Authorization"] = `Bearer ${t}`;
  return h;
}

/** Calls the API; asks for the token once when the server requires one. */
export async function api(path, { method = "GET", body, type, raw = false } = {}) {
  const init = { method, headers: headers(type ? { "Content-Type": type } : {}) };
  if (body !== undefined) {
    init.body = typeof body === "string" || body instanceof FormData ? body : JSON.stringify(body);
    if (!type && !(body instanceof FormData) && typeof body !== "string") init.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path.startsWith("/") ? path : `/api/v1/${path}`, init);
  if (res.status === 401) {
    const t = prompt("This weir server needs its API token:");
    if (t) {
      localStorage.setItem(TOKEN_KEY, t.trim());
      return api(path, { method, body, type, raw });
    }
  }
  if (raw) return res;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** Server-sent events with the token (EventSource cannot send headers). */
export async function* events(path, signal) {
  const res = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal });
  if (!res.ok || !res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = { event: "message", data: "" };
      for (const line of chunk.split("\n")) {
        const [k, ...rest] = line.split(":");
        const v = rest.join(":").replace(/^ /, "");
        if (k === "event") ev.event = v;
        else if (k === "data") ev.data += (ev.data ? "\n" : "") + v;
        else if (k === "id") ev.id = v;
      }
      yield ev;
    }
  }
}
