// Scenarios of the kernel side, run inside a test's network namespace by
// test/kernel.test.ts (one per process). Prints "RESULT <json>".
import { execFileSync } from "node:child_process";
import { loadCore } from "../../host/core.ts";
import { RecordView, type Conntrack, type Expectation } from "../../host/record-view.ts";
import { Kernel } from "../../host/kernel/kernel.ts";
import { Logger } from "../../host/process/log.ts";
import { inject } from "../../bench/injector.ts";
import { TestNode, flow } from "./node.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines: string[] = [];
const log = new Logger(null, false, [(level, m) => lines.push(`[${level}] ${m}`)]);
const conntrack = (...args: string[]) => execFileSync("conntrack", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

function node() {
  const core = loadCore();
  core.fn.engineInit(core.k("MODE_FTFW"), 65536, 1 << 22, 300, 131072, 60, 180, 1, 1, 1_000_000);
  return core;
}

async function until(cond: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await sleep(20);
  return Date.now() - t0;
}

/** Sends the core's netlink batch on a fresh socket and returns the errnos of the answers. */
async function request(core: ReturnType<typeof node>, build: () => void): Promise<number[]> {
  const { NetlinkSocket, RECV_AGAIN } = await import("../../host/kernel/netlink.ts");
  const sock = NetlinkSocket.open({});
  const { fn } = core;
  fn.nlTxClear();
  build();
  sock.send(new Uint8Array(core.bytes.buffer, fn.nlTxPtr(), fn.nlTxLen()));
  const errnos: number[] = [];
  for (let tries = 0; tries < 200 && errnos.length === 0; tries++) {
    const n = sock.recvInto(new Uint8Array(core.bytes.buffer, fn.nlPtr(), fn.nlSize()));
    if (n === RECV_AGAIN) { await sleep(5); continue; }
    fn.nlOpen(n);
    for (let r = fn.nlNext(); r !== core.k("NL_END"); r = fn.nlNext()) if (r === core.k("NL_ERROR")) errnos.push(fn.nlErrno());
  }
  sock.close();
  return errnos;
}

const scenarios: Record<string, () => Promise<unknown>> = {
  /** Create, update and delete requests built by the core, with conntrack -L as the witness. */
  async requests() {
    const core = node();
    const view = new RecordView(core);
    const k = (n: string) => core.k(n);
    const ct: Conntrack = {
      family: "ipv6", src: "2001:db8::5", dst: "2001:db8:1::5", l4proto: 17, sport: 5353, dport: 53,
      status: 0x0e, timeout: 120, mark: 1,
    };
    const put = (c: Conntrack, op: string) => () => { view.writeCt(c); core.fn.nlPutCt(k(op), k("O_ACK"), 1); };
    const created = await request(core, put(ct, "OP_CREATE"));
    const afterCreate = conntrack("-L", "-f", "ipv6").trim();
    const updated = await request(core, put({ ...ct, mark: 77 }, "OP_UPDATE"));
    const afterUpdate = conntrack("-L", "-f", "ipv6").trim();
    const deleted = await request(core, put(ct, "OP_DELETE"));
    const afterDelete = conntrack("-L", "-f", "ipv6").trim();
    const again = await request(core, put(ct, "OP_DELETE"));
    return { created, afterCreate, updated, afterUpdate, deleted, afterDelete, again };
  },

  async events() {
    const core = node();
    const kernel = new Kernel(core, { bufferSize: 1 << 20, maxGrowth: 1 << 22, expectations: true, liberal: true }, log);
    conntrack("-I", "-p", "tcp", "-s", "192.0.2.1", "-d", "198.51.100.1", "--sport", "1000", "--dport", "80", "--state", "ESTABLISHED", "-t", "100", "--mark", "9");
    conntrack("-I", "-p", "udp", "-s", "192.0.2.2", "-d", "198.51.100.1", "--sport", "1001", "--dport", "53", "-t", "100");
    conntrack("-I", "-p", "icmp", "-s", "192.0.2.3", "-d", "198.51.100.1", "--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "77", "-t", "100");
    await until(() => core.fn.cacheCount(core.k("CACHE_INTERNAL_CT")) === 3, 2000);
    const view = new RecordView(core);
    const cached: Conntrack[] = [];
    core.fn.dumpStart(core.k("CACHE_INTERNAL_CT"));
    while (core.fn.dumpNext()) cached.push(view.readCt());
    conntrack("-D", "-p", "udp", "-s", "192.0.2.2");
    await until(() => core.fn.cacheCount(core.k("CACHE_INTERNAL_CT")) === 2, 2000);
    const afterDelete = core.fn.cacheCount(core.k("CACHE_INTERNAL_CT"));
    // A second core learns the same table from a dump instead of events.
    const core2 = node();
    const kernel2 = new Kernel(core2, { bufferSize: 0, maxGrowth: 0, expectations: false, liberal: true }, log);
    await kernel2.resync();
    const dumped = core2.fn.cacheCount(core2.k("CACHE_INTERNAL_CT"));
    kernel.close(); kernel2.close();
    return { cached, afterDelete, dumped };
  },

  async commit() {
    const n = Number(process.argv[3] ?? 100000);
    // A peer synchronizes N conntracks and an FTP expectation with its master into our external cache.
    const peer = new TestNode("notrack", { hashSize: 65536 });
    const core = node();
    const rx = (ds: Uint8Array[]) => {
      for (const d of ds) { core.bytes.set(d, core.fn.rxPtr()); core.fn.engineRx(d.length); }
    };
    for (let i = 0; i < n; i++) {
      peer.ctEvent(flow(i));
      if (i % 5000 === 4999) rx(peer.flush());
    }
    const master: Conntrack = {
      family: "ipv4", src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 40001, dport: 21,
      tcpState: 3, status: 0x18e, timeout: 300, helper: "ftp",
    };
    const exp: Expectation = {
      master: { family: "ipv4", src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 40001, dport: 21 },
      expected: { family: "ipv4", src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 0, dport: 50010 },
      mask: { family: "ipv4", src: "255.255.255.255", dst: "255.255.255.255", l4proto: 6, sport: 0, dport: 65535 },
      timeout: 300, flags: 0, class: 0, helper: "ftp",
    };
    peer.ctEvent(master);
    peer.expEvent(exp);
    // Three the kernel refuses: a helper it does not have.
    for (let i = 0; i < 3; i++) peer.ctEvent({ ...master, sport: 41000 + i, helper: "nosuch" });
    rx(peer.flush());
    const kernel = new Kernel(core, { bufferSize: 0, maxGrowth: 0, expectations: true, liberal: true }, log);
    const ct = await kernel.commit("ct");
    const ex = await kernel.commit("expect");
    // Committing again updates what is there instead of failing (every
    // batch's EEXISTs retried while the next batch is already built).
    const again = await kernel.commit("expect");
    const againCt = await kernel.commit("ct");
    kernel.close();
    return {
      external: core.fn.cacheCount(core.k("CACHE_EXTERNAL_CT")), ct, ex, again, againCt,
      kernelCount: Number(conntrack("-C").trim()),
      expectList: conntrack("-L", "expect").trim(),
      masterLine: conntrack("-L", "-p", "tcp", "--dport", "21").trim(),
      log: lines,
    };
  },

  async overrun() {
    const n = Number(process.argv[3] ?? 100000);
    const core = node();
    const kernel = new Kernel(core, { bufferSize: 65536, maxGrowth: 1 << 20, expectations: false, liberal: true }, log);
    let lossAt = 0;
    let resynced = 0;
    kernel.onLoss = (why) => {
      if (lossAt) return;
      lossAt = Date.now();
      log.warning(`${why}: resynchronizing with the kernel`);
      setTimeout(async () => {
        await kernel.resync();
        resynced = Date.now();
      }, 200);
    };
    // The injector runs in this very thread: while it creates entries nobody reads events.
    const injected = inject(n, 0, 512);
    const waited = await until(() => resynced > 0 && core.fn.cacheCount(core.k("CACHE_INTERNAL_CT")) >= n, 10000);
    kernel.checkDrops();
    const result = {
      injected, waited, overruns: kernel.overruns, resyncAfterLossMs: resynced ? resynced - lossAt : -1,
      internal: core.fn.cacheCount(core.k("CACHE_INTERNAL_CT")), kernelCount: Number(conntrack("-C").trim()),
      log: lines,
    };
    kernel.close();
    return result;
  },
};

const name = process.argv[2];
const run = scenarios[name];
if (!run) {
  console.error(`unknown scenario ${name}`);
  process.exit(2);
}
run().then((r) => {
  console.log(`RESULT ${JSON.stringify(r)}`);
  process.exit(0);
}, (err) => {
  console.error(err);
  process.exit(1);
});
