// weft's dashboard: plain ES module, no build step. Every view reads the
// control plane's JSON API and is redrawn every POLL_MS (a workload's
// live tap panel stays while its figures are redrawn).
import * as tap from "./tap.js";
const { esc } = tap;

const POLL_MS = 2000;
const view = document.getElementById("view");
const status = document.getElementById("status");
const windowSelect = document.getElementById("window");


async function api(path) {
  const rsp = await fetch(path, { headers: { accept: "application/json" } });
  if (!rsp.ok) throw new Error(`${path}: ${rsp.status} ${await rsp.text()}`);
  return rsp.json();
}

const stat = (kind, extra = "") => api(`/api/v1/stat?kind=${kind}&window=${windowSelect.value}${extra}`);

// Success rate, coloured as Linkerd's dashboard does.
function sr(v) {
  if (v === null || v === undefined) return `<span class="muted">-</span>`;
  const pct = (v * 100).toFixed(2) + "%";
  const cls = v >= 0.99 ? "sr-good" : v >= 0.95 ? "sr-warn" : "sr-bad";
  return `<span class="${cls}">${pct}</span>`;
}
const ms = (v) => (v === null || v === undefined ? "-" : `${Math.round(v)} ms`);
const rps = (r) => (r.requests ? `${r.rps.toFixed(1)}` : "-");
const bytes = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)} MB/s` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} kB/s` : `${Math.round(v)} B/s`);

function table(headers, rows, empty) {
  if (!rows.length) return `<div class="empty">${esc(empty)}</div>`;
  const th = headers.map(([h, num]) => `<th class="${num ? "num" : ""}">${esc(h)}</th>`).join("");
  return `<table><thead><tr>${th}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

const GOLDEN = [["Success", true], ["RPS", true], ["P50", true], ["P95", true], ["P99", true]];
const golden = (r) =>
  `<td class="num">${sr(r.success_rate)}</td><td class="num">${rps(r)}</td>` +
  `<td class="num">${ms(r.p50_ms)}</td><td class="num">${ms(r.p95_ms)}</td><td class="num">${ms(r.p99_ms)}</td>`;
const workloadLink = (ns, name) =>
  `<a class="link" href="#/workload/${encodeURIComponent(ns)}/${encodeURIComponent(name)}">${esc(name)}</a>`;

async function overview() {
  const [workloads, services] = await Promise.all([stat("workload"), stat("service")]);
  const namespaces = [...new Set(workloads.map((w) => w.namespace))].sort();
  const nsRows = namespaces.map((ns) => {
    const ws = workloads.filter((w) => w.namespace === ns);
    const meshed = ws.reduce((n, w) => n + (w.meshed || 0), 0);
    const reqs = ws.reduce((n, w) => n + w.requests, 0);
    const ok = ws.reduce((n, w) => n + (w.success_rate ?? 1) * w.requests, 0);
    return `<tr><td>${esc(ns)}</td><td class="num">${ws.length}</td><td class="num">${meshed}</td>` +
      `<td class="num">${sr(reqs ? ok / reqs : null)}</td></tr>`;
  });
  const wRows = workloads.map((w) =>
    `<tr data-workload="${esc(w.namespace)}/${esc(w.name)}"><td>${esc(w.namespace)}</td><td>${workloadLink(w.namespace, w.name)}</td>` +
    `<td class="num">${w.meshed ?? 0}/${w.meshed ?? 0}</td>${golden(w)}</tr>`);
  const sRows = services.map((s) =>
    `<tr data-service="${esc(s.name)}"><td>${esc(s.namespace || "-")}</td><td>${esc(s.name)}</td>${golden(s)}</tr>`);
  return `
    <h2>Namespaces</h2><section class="card">${table([["Namespace"], ["Workloads", true], ["Meshed", true], ["Success", true]], nsRows, "no workloads connected")}</section>
    <h2>Workloads</h2><section class="card" id="workloads">${table([["Namespace"], ["Workload"], ["Meshed", true], ...GOLDEN], wRows, "no workloads connected")}</section>
    <h2>Services</h2><section class="card" id="services">${table([["Namespace"], ["Service"], ...GOLDEN], sRows, "no service traffic in this window")}</section>`;
}

// A layered layout: callers left of what they call.
function layout(nodes, edges, width, height) {
  const depth = new Map(nodes.map((n) => [n, 0]));
  for (let i = 0; i < nodes.length; i++) {
    for (const e of edges) {
      if (e.from !== e.to && depth.get(e.to) <= depth.get(e.from)) depth.set(e.to, depth.get(e.from) + 1);
    }
  }
  const layers = new Map();
  for (const n of nodes) {
    const d = Math.min(depth.get(n), nodes.length);
    if (!layers.has(d)) layers.set(d, []);
    layers.get(d).push(n);
  }
  const cols = Math.max(...layers.keys(), 0) + 1;
  const pos = new Map();
  for (const [d, ns] of layers) {
    ns.sort();
    ns.forEach((n, i) => pos.set(n, { x: ((d + 0.5) * width) / cols, y: ((i + 0.5) * height) / ns.length }));
  }
  return pos;
}

async function graph() {
  const edges = (await stat("edge")).map((e) => ({
    from: e.source, to: `${e.namespace}/${e.name}`, rps: e.rps, sr: e.success_rate, secured: e.secured,
    requests: e.requests, bytes: (e.read_bytes_per_sec || 0) + (e.write_bytes_per_sec || 0),
  }));
  if (!edges.length) return `<h2>Service graph</h2><div class="empty">no traffic between workloads in this window</div>`;
  const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))];
  const [w, h] = [1100, 500];
  const pos = layout(nodes, edges, w, h);
  const color = (v) => (v === null ? "#9aa3b2" : v >= 0.99 ? "#1a7f37" : v >= 0.95 ? "#b8860b" : "#c62828");
  const edgeSvg = edges.map((e) => {
    const a = pos.get(e.from), b = pos.get(e.to);
    const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2 - 18;
    // TCP-only edges carry bytes, not requests.
    const load = e.requests ? `${e.rps.toFixed(1)} rps` : `${bytes(e.bytes)} TCP`;
    const label = `${load} ${e.sr === null ? "" : (100 * (1 - e.sr)).toFixed(1) + "% err"} ${e.secured ? "· mTLS" : "· plaintext"}`;
    return `<g class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}" data-secured="${e.secured}">` +
      `<path d="M${a.x},${a.y} Q${mx},${my} ${b.x},${b.y}" stroke="${color(e.sr)}" marker-end="url(#arrow)"/>` +
      `<text x="${mx}" y="${my}">${esc(label)}</text></g>`;
  }).join("");
  const nodeSvg = nodes.map((n) => {
    const p = pos.get(n);
    const [ns, name] = n.split("/");
    return `<g class="node" data-node="${esc(n)}"><a href="#/workload/${encodeURIComponent(ns)}/${encodeURIComponent(name)}">` +
      `<circle cx="${p.x}" cy="${p.y}" r="26"/><text x="${p.x}" y="${p.y + 42}">${esc(name)}</text>` +
      `<text x="${p.x}" y="${p.y + 56}" class="muted">${esc(ns)}</text></a></g>`;
  }).join("");
  return `<h2>Service graph</h2>
    <svg class="graph" viewBox="0 0 ${w} ${h + 60}" role="img" aria-label="service graph">
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="34" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
        <path d="M 0 0 L 10 5 L 0 10 z" fill="#9aa3b2"/></marker></defs>
      ${edgeSvg}${nodeSvg}
    </svg>
    <p class="muted">Edges as the destination saw them: requests per second, error rate, and mTLS when every request came over mesh mTLS.</p>`;
}

async function workload(ns, name) {
  const q = `&namespace=${encodeURIComponent(ns)}&name=${encodeURIComponent(name)}`;
  const [rows, edges, proxies, services, routes] = await Promise.all([
    stat("workload", q), stat("edge", `&name=${encodeURIComponent(name)}`), api("/api/v1/proxies"),
    api("/api/v1/services"), stat("route", `&namespace=${encodeURIComponent(ns)}`)]);
  const me = `${ns}/${name}`;
  // The routes of the services this workload serves (ServiceProfile
  // routes and HTTPRoute rules), as `weft routes <service>` shows them.
  const served = new Set(services.filter((s) => s.namespace === ns && (s.workloads || []).includes(name)).map((s) => s.name));
  const routeRows = routes.filter((r) => served.has(r.service)).map((r) =>
    `<tr data-route="${esc(r.name)}"><td>${esc(r.name)}</td><td>${esc(r.service)}</td>${golden(r)}</tr>`);
  const routesEmpty = served.size
    ? `no route traffic to ${[...served].join(", ")} in this window (routes come from ServiceProfiles and HTTPRoutes)`
    : "serves no service";
  const inbound = edges.filter((e) => e.namespace === ns && e.name === name);
  const outbound = edges.filter((e) => e.source === me);
  const edgeRow = (e, other) =>
    `<tr><td>${other}</td><td>${esc(e.source_identity || "-")}</td><td>${e.secured ? "mTLS" : "plaintext"}</td>${golden(e)}</tr>`;
  const pods = proxies.filter((p) => p.namespace === ns && p.workload === name).map((p) =>
    `<tr><td>${esc(p.id)}</td><td>${esc(p.addresses.join(", "))}</td><td class="${p.state === "synced" ? "ok" : p.state === "nacked" ? "failed" : "warning"}">${esc(p.state)}</td><td>${esc(p.acked_version || "-")}</td></tr>`);
  const edgeHead = [["Workload"], ["Client identity"], ["Security"], ...GOLDEN];
  return `<h2>${esc(name)} <span class="muted">in ${esc(ns)}</span></h2>
    <section class="card">${table([["Meshed", true], ...GOLDEN], rows.map((r) => `<tr><td class="num">${r.meshed ?? 0}</td>${golden(r)}</tr>`), "not seen")}</section>
    <h2>Inbound</h2><section class="card">${table(edgeHead, inbound.map((e) => edgeRow(e, workloadLink(...e.source.split("/")))), "no callers in this window")}</section>
    <h2>Outbound</h2><section class="card">${table(edgeHead, outbound.map((e) => edgeRow(e, workloadLink(e.namespace, e.name))), "no calls to meshed workloads in this window")}</section>
    <h2>Routes <span class="muted">of the services it serves</span></h2><section class="card" id="routes">${table([["Route"], ["Service"], ...GOLDEN], routeRows, routesEmpty)}</section>
    <h2>Proxies</h2><section class="card">${table([["Proxy"], ["Addresses"], ["Sync"], ["Config version"]], pods, "no proxy connected")}</section>`;
}

async function config() {
  const [checks, cfg, proxies] = await Promise.all([api("/api/v1/check"), api("/api/v1/config"), api("/api/v1/proxies")]);
  const checkRows = checks.map((c) =>
    `<tr><td>${esc(c.category)}</td><td class="${c.outcome}">${esc(c.name)}</td><td class="wrap">${esc(c.detail)}</td><td class="muted wrap">${esc(c.hint || "")}</td></tr>`);
  const findings = (cfg.findings || []).map((f) =>
    `<tr><td>${esc(f.severity)}</td><td>${esc(f.file)}${f.line ? ":" + f.line : ""}</td><td>${esc(f.resource || "")}</td><td class="wrap">${esc(f.message)}</td></tr>`);
  const proxyRows = proxies.map((p) =>
    `<tr><td>${esc(p.id)}</td><td>${esc(p.namespace)}</td><td>${esc(p.workload)}</td><td class="${p.state === "synced" ? "ok" : p.state === "nacked" ? "failed" : "warning"}">${esc(p.state)}</td><td class="num">${p.resources}</td><td>${esc(p.nack || "")}</td></tr>`);
  return `<h2>Checks</h2><section class="card">${table([["Category"], ["Check"], ["Found"], ["Hint"]], checkRows, "no checks")}</section>
    <h2>Config in force</h2><section class="card"><p>${cfg.resources} resources (${cfg.applied} applied with <code>weft apply</code>) from ${esc((cfg.files || []).length)} files</p>
    ${table([["Severity"], ["Where"], ["Resource"], ["Finding"]], findings, "weft analyze finds nothing to say")}</section>
    <h2>Proxies</h2><section class="card">${table([["Proxy"], ["Namespace"], ["Workload"], ["Sync"], ["Resources", true], ["Refused because"]], proxyRows, "no proxy connected")}</section>`;
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.view === (parts[0] || "overview"));
  }
  switch (parts[0]) {
    case "graph": return graph();
    case "config": return config();
    case "workload": return workload(parts[1], parts[2]);
    default: return overview();
  }
}

let drawing = false;
let stopTap = null;
async function draw() {
  if (drawing) return;
  drawing = true;
  try {
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    const panel = document.getElementById("tap-panel");
    if (parts[0] === "workload") {
      const key = `${parts[1]}/${parts[2]}`;
      const html = await route();
      if (panel?.dataset.workload === key) {
        document.getElementById("wl-data").innerHTML = html;
      } else {
        stopTap?.();
        view.innerHTML = `<div id="wl-data">${html}</div><h2>Live tap and top</h2>${tap.panel(parts[1], parts[2])}`;
        stopTap = tap.attach(parts[1], parts[2]);
      }
    } else {
      stopTap?.();
      stopTap = null;
      view.innerHTML = await route();
    }
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    status.textContent = `control plane unreachable`;
    console.error(e);
  } finally {
    drawing = false;
  }
}

window.addEventListener("hashchange", draw);
windowSelect.addEventListener("change", draw);
draw();
setInterval(draw, POLL_MS);
