// Loads weft's dashboard in Debian's Chromium (headless, driven by
// playwright-core) and checks what a person would look at: the workloads
// table lists the live workloads, the service graph draws their edges
// with the mTLS lock, and a workload's view lists its service's routes and
// shows requests arriving in its live tap. Saves a screenshot of each view.
//
// node dashboard.mjs <dashboard url> <screenshot dir> <workload>... --edge <from>=<to>... --tap <ns/workload>=<token file>
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [url, shots, ...rest] = process.argv.slice(2);
const flag = (f) => rest.filter((a, i) => rest[i - 1] === f);
const workloads = rest.filter((a, i) => !a.startsWith("--") && !rest[i - 1]?.startsWith("--"));
const edges = flag("--edge").map((e) => e.split("="));
const taps = flag("--tap").map((t) => t.split("="));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // CI runs as root, where Chromium's own sandbox cannot start.
  args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
});
let failed = null;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => { failed ??= `page error: ${e.message}`; });
  await page.goto(url);
  for (const w of workloads) {
    // Live: the row appears once the control plane has scraped it, and
    // its success rate once it has traffic.
    await page.waitForSelector(`#workloads tr[data-workload="${w}"] td.num span.sr-good`, { timeout: 30000 });
  }
  await page.screenshot({ path: `${shots}/overview.png`, fullPage: true });
  await page.goto(`${url}#/graph`);
  for (const [from, to] of edges) {
    await page.waitForSelector(`g.edge[data-from="${from}"][data-to="${to}"][data-secured="true"]`, { timeout: 30000 });
  }
  await page.screenshot({ path: `${shots}/graph.png`, fullPage: true });
  await page.goto(`${url}#/config`);
  // Every check passes on a healthy demo, analysis included (the
  // gateway's selector matches the gateway proxy weft up runs).
  await page.waitForSelector('td.ok:has-text("analysis is clean")', { timeout: 10000 });
  await page.waitForSelector('td.ok:has-text("every proxy holds its current config")', { timeout: 10000 });
  await page.screenshot({ path: `${shots}/config.png`, fullPage: true });
  for (const [workload, tokenFile] of taps) {
    // A live tap, started as a person would: token, filter, Start. The
    // test sends product pages meanwhile.
    await page.goto(`${url}#/workload/${workload}`);
    // The routes of the service it serves, with live figures.
    await page.waitForSelector('#routes tr[data-route="GET /reviews/{id}"] td.num span.sr-good', { timeout: 30000 });
    await page.fill("#tap-token", readFileSync(tokenFile, "utf8").trim());
    await page.fill("#tap-path", "/reviews/");
    await page.click("#tap-start");
    await page.waitForSelector('#tap-rows tbody tr[data-path^="/reviews/"]', { timeout: 30000 });
    await page.waitForSelector('#top-rows tbody tr[data-path^="/reviews/"]', { timeout: 10000 });
    await page.screenshot({ path: `${shots}/workload.png`, fullPage: true });
    await page.click("#tap-stop");
  }
} catch (e) {
  failed ??= String(e);
} finally {
  await browser.close();
}
if (failed) {
  console.error(failed);
  process.exit(1);
}
console.log("dashboard ok");
