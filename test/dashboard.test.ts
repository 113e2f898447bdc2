// The dashboard ("/") in a real headless Chromium (Debian's chromium package,
// driven by playwright-core): served by the API on 127.0.0.1 over a simulated
// daemon whose counters move and whose events arrive, it must show the
// numbers, one row per link, plots with points, and the events as lines.
// Any request the page makes off 127.0.0.1 fails the test: nothing may come
// from the internet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { startApi } from "../host/api/server.ts";
import { defaultApi } from "../host/config/api.ts";
import { FakeSource, flow } from "./support/fake-source.ts";

const CHROMIUM = "/usr/bin/chromium";

/** Debian's Chromium, headless, with a throw-away profile (--user-data-dir) and no background traffic. */
async function launch(profile: string): Promise<BrowserContext> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (the CI does)`);
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

test("the dashboard shows the cluster, its links, cache sizes, plotted rates and the latest events", { timeout: 60_000 }, async () => {
  const src = new FakeSource();
  src.tick(10);
  const api = await startApi(src, { ...defaultApi(1), port: 0, token: "dashboard-test-token-0123" }, () => undefined);
  const profile = mkdtempSync(join(tmpdir(), "ctsync-chromium-"));
  const ticker = setInterval(() => src.tick(4), 100);
  let browser: BrowserContext | null = null;
  try {
    browser = await launch(profile);
    const page = await browser.newPage();
    const offsite: string[] = [];
    const consoleErrors: string[] = [];
    page.on("request", (r) => { if (!r.url().startsWith(`http://127.0.0.1:${api.port}/`) && !r.url().startsWith(`ws://127.0.0.1:${api.port}/`)) offsite.push(r.url()); });
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => consoleErrors.push(e.message));

    await page.goto(`http://127.0.0.1:${api.port}/?interval=200`);
    assert.equal(await page.title(), "ctsync");

    // The header: mode and uptime (the fake daemon started 1 h 2 min ago).
    await page.waitForFunction(() => document.getElementById("mode")?.textContent === "FTFW");
    assert.match((await page.textContent("#uptime"))!, /^1h 2min$/);

    // One row per link, with status and role.
    await page.waitForSelector("#links tbody tr.link >> nth=1");
    const rows = await page.$$eval("#links tbody tr.link", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0].slice(0, 5), ["0", "udp", "eth2", "RUNNING", "ACTIVE"]);
    assert.deepEqual(rows[1].slice(0, 5), ["1", "udp", "eth3", "NO-CARRIER", "BACKUP"]);
    assert.deepEqual(await page.$$eval("#peers tbody tr.peer td:first-child", (tds) => tds.map((t) => t.textContent)), ["10.0.0.2"]);

    // The numbers follow the daemon's counters: freeze them, then read them back.
    clearInterval(ticker);
    const internal = src.ct.internal.length;
    const external = src.ct.external.length;
    src.net.recvLost = 12;
    src.rsqueue = [{ kind: "object", seq: 1 }, { kind: "object", seq: 2 }, { kind: "object", seq: 3 }];
    const fmt = (n: number) => n.toLocaleString("en-US");
    await page.waitForFunction(([i, e]) =>
      document.getElementById("cache-internal-ct")?.textContent === i && document.getElementById("cache-external-ct")?.textContent === e
      && document.getElementById("msgs-lost")?.textContent === "12" && document.getElementById("rsqueue")?.textContent === "3",
    [fmt(internal), fmt(external)] as const, { timeout: 10_000 });
    assert.equal(await page.textContent("#cache-internal-expect"), "0");
    const sentCell = await page.textContent("#links tbody tr.link:first-child td:nth-child(6)");
    assert.equal(sentCell, fmt(Number(src.linkList[0].sent.messages)));

    // The plots have points: cache sizes over time, and rates computed from the counters.
    // Polled from here: a predicate evaluated in the page would need 'unsafe-eval',
    // which the dashboard's content security policy (rightly) refuses.
    const points = async (sel: string) => ((await page.getAttribute(sel, "points")) ?? "").trim().split(/\s+/).filter(Boolean).length;
    const plotted = async () => (await points('#plot-cache polyline[data-name="internal"]')) >= 3
      && (await points('#plot-rates polyline[data-name="events"]')) >= 2;
    const deadline = Date.now() + 10_000;
    while (!(await plotted())) {
      assert.ok(Date.now() < deadline, "the plots got their points within 10 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const series = await page.$$eval("svg.plot polyline.series", (pls) => pls.map((p) => [p.getAttribute("data-name"), p.getAttribute("points")!.split(" ").length]));
    assert.deepEqual(series.map((s) => s[0]), ["internal", "external", "events", "sent", "received"]);
    // While the ticker ran, kernel events flowed: the events/s curve rose above 0 somewhere.
    const eventsYs = await page.$eval('#plot-rates polyline[data-name="events"]', (p) => p.getAttribute("points")!.split(" ").map((xy) => Number(xy.split(",")[1])));
    assert.ok(Math.min(...eventsYs) < 140, `the events/s curve stays on the axis: ${eventsYs.join(" ")}`);
    const ratesText = await page.textContent("#rate-events");
    assert.match(ratesText!, /^[0-9.,]+$/);

    // An event line appears for each event that arrives.
    await page.waitForFunction(() => document.getElementById("live")?.textContent === "live");
    src.emit({ type: "ct-new", at: Date.now(), cache: "external", ct: { ...flow(7), src: "172.16.9.9", sport: 5555, dport: 443 } });
    src.emit({ type: "link", at: Date.now(), link: 0, what: "peer-hello", peer: "10.0.0.2", message: "peer answered HELLO" });
    await src.commit("ct");
    await page.waitForSelector("#events li.t-commit");
    const lines = await page.$$eval("#events li", (lis) => lis.map((li) => li.textContent ?? ""));
    const find = (re: RegExp) => assert.ok(lines.some((l) => re.test(l)), `no line matches ${re}: ${lines.slice(0, 5).join(" | ")}`);
    find(/ct-new +external tcp 172\.16\.9\.9:5555 → 192\.168\.0\.10:443/);
    find(/link +link 0 peer-hello 10\.0\.0\.2: peer answered HELLO/);
    find(/commit +ct: done, \d+ committed, 0 failed/);
    // The commit shows as the last one in the links panel too.
    await page.waitForFunction(() => /^\d+ in \d+\.\d{3}s$/.test(document.getElementById("last-commit")?.textContent ?? ""));

    await page.screenshot({ path: join(profile, "dashboard.png"), fullPage: true });
    assert.deepEqual(offsite, [], "the page fetched something from elsewhere");
    assert.deepEqual(consoleErrors, []);
  } finally {
    clearInterval(ticker);
    await browser?.close();
    await api.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
