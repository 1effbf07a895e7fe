// The live tap and top of one workload: streams `GET /api/v1/tap` (JSON
// lines) with the tap token the user gives (kept for this browser tab
// only), newest requests first, and a top table by path.

export const esc = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const KEEP = 50;

export function panel(ns, name) {
  return `<section class="card" id="tap-panel" data-workload="${esc(ns)}/${esc(name)}">
    <form id="tap-form" class="tap-form">
      <label>tap token <input type="password" id="tap-token" autocomplete="off" placeholder="contents of tap-token"></label>
      <label>direction <select id="tap-direction"><option value="">any</option><option>inbound</option><option>outbound</option></select></label>
      <label>path prefix <input id="tap-path" placeholder="/"></label>
      <label>method <input id="tap-method" size="7" placeholder="GET"></label>
      <button type="submit" id="tap-start">Start</button>
      <button type="button" id="tap-stop" disabled>Stop</button>
      <span id="tap-state" class="muted"></span>
    </form>
    <h3>Top</h3>
    <table id="top-rows"><thead><tr><th>Source</th><th>Destination</th><th>Method</th><th>Path</th><th class="num">Count</th><th class="num">Best</th><th class="num">Worst</th><th class="num">Last</th><th class="num">Success</th></tr></thead><tbody></tbody></table>
    <h3>Requests</h3>
    <table id="tap-rows"><thead><tr><th>Dir</th><th>Source</th><th>Destination</th><th>Method</th><th>Path</th><th class="num">Status</th><th class="num">Latency</th><th>mTLS</th></tr></thead><tbody></tbody></table>
  </section>`;
}

export function attach(ns, name) {
  const form = document.getElementById("tap-form");
  const token = document.getElementById("tap-token");
  const stopButton = document.getElementById("tap-stop");
  const state = document.getElementById("tap-state");
  token.value = sessionStorage.getItem("weft-tap-token") ?? "";
  let controller = null;
  const top = new Map();

  const stop = () => {
    controller?.abort();
    controller = null;
    stopButton.disabled = true;
  };
  stopButton.addEventListener("click", stop);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    stop();
    sessionStorage.setItem("weft-tap-token", token.value.trim());
    const params = new URLSearchParams({ workload: name, namespace: ns });
    for (const [k, id] of [["direction", "tap-direction"], ["path", "tap-path"], ["method", "tap-method"]]) {
      const v = document.getElementById(id).value.trim();
      if (v) params.set(k, v);
    }
    controller = new AbortController();
    stopButton.disabled = false;
    state.textContent = "starting…";
    try {
      const rsp = await fetch(`/api/v1/tap?${params}`, {
        headers: { authorization: `Bearer ${token.value.trim()}` },
        signal: controller.signal,
      });
      if (!rsp.ok) {
        state.textContent = `${rsp.status}: ${await rsp.text()}`;
        stop();
        return;
      }
      state.textContent = "tapping";
      const reader = rsp.body.getReader();
      const decoder = new TextDecoder();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line) show(JSON.parse(line), top);
        }
      }
      state.textContent = "ended";
    } catch (e) {
      if (e.name !== "AbortError") state.textContent = String(e);
      else state.textContent = "stopped";
    }
  });
  return stop;
}

function show(e, top) {
  const rows = document.querySelector("#tap-rows tbody");
  if (!rows) return;
  const tr = document.createElement("tr");
  tr.dataset.path = e.path;
  tr.innerHTML = `<td>${esc(e.direction)}</td><td>${esc(e.source || "-")}</td><td>${esc(e.destination || "-")}</td>` +
    `<td>${esc(e.method)}</td><td>${esc(e.authority)}${esc(e.path)}</td><td class="num">${e.status}</td>` +
    `<td class="num">${e.latency_ms.toFixed(1)} ms</td><td>${e.mtls ? "mTLS" : "plaintext"}</td>`;
  rows.prepend(tr);
  while (rows.children.length > KEEP) rows.lastChild.remove();

  const key = `${e.source}|${e.destination}|${e.method}|${e.path}`;
  const t = top.get(key) ?? { e, count: 0, ok: 0, best: Infinity, worst: 0, last: 0 };
  t.count += 1;
  t.ok += e.status < 500 && (!e.grpc_status || e.grpc_status === "0") ? 1 : 0;
  t.best = Math.min(t.best, e.latency_ms);
  t.worst = Math.max(t.worst, e.latency_ms);
  t.last = e.latency_ms;
  top.set(key, t);
  const body = document.querySelector("#top-rows tbody");
  body.innerHTML = [...top.values()].sort((a, b) => b.count - a.count).slice(0, 20).map((t) =>
    `<tr data-path="${esc(t.e.path)}"><td>${esc(t.e.source || "-")}</td><td>${esc(t.e.destination || "-")}</td><td>${esc(t.e.method)}</td>` +
    `<td>${esc(t.e.path)}</td><td class="num">${t.count}</td><td class="num">${t.best.toFixed(1)} ms</td>` +
    `<td class="num">${t.worst.toFixed(1)} ms</td><td class="num">${t.last.toFixed(1)} ms</td>` +
    `<td class="num">${(100 * t.ok / t.count).toFixed(2)}%</td></tr>`).join("");
}
