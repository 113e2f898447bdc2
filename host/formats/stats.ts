// The text of conntrackd's -s sections (sync mode), from typed counters.
// Labels, tabs and field widths are conntrackd 1.4.7's: counters are right
// aligned in 12 columns (32-bit ones) or 20 (64-bit ones), link counters in
// 20, each block closed by an empty line.
import type {
  CacheCounters, LinkStats, LocalCounters, NetworkCounters, ProcessInfo,
  QueueStats, ResendQueueItem, RuntimeCounters, TrafficCounters,
} from "../control/api.ts";
import type { CacheCounts } from "../core.ts";

type Num = number | bigint;

/** The core's counters of a cache as conntrackd's -s cache names them (it has failures ctsync cannot have: no memory, not found on update). */
export function cacheCountersFrom(c: CacheCounts): CacheCounters {
  return {
    active: c.entries, objects: c.entries, tableEntries: c.entries,
    addOk: c.created, addFail: c.createFailed, addFailNoMemory: 0, addFailNoSpace: c.createFailed,
    updOk: c.updated, updFail: c.updateFailed, updFailNotFound: 0,
    delOk: c.destroyed, delFail: c.destroyFailed, delFailNotFound: c.destroyFailed,
  };
}

/** What one -s request shows; the server gathers it, the formats print it. */
export type StatsData =
  | { section: "general" | "expect"; internal: CacheCounters; external: CacheCounters;
      traffic: TrafficCounters; activeLink: LinkStats | null; network: NetworkCounters }
  | { section: "network"; network: NetworkCounters; activeLink: LinkStats | null }
  | { section: "cache"; internal: CacheCounters; external: CacheCounters }
  | { section: "link"; links: LinkStats[] }
  | { section: "rsqueue"; items: ResendQueueItem[] }
  | { section: "queue"; queues: QueueStats }
  | { section: "runtime"; runtime: RuntimeCounters; local: LocalCounters; now: number }
  | { section: "process"; processes: ProcessInfo[] }
  // The Stats mode: its one cache, named "stats", and the destroyed flows' traffic.
  | { section: "stats"; cache: CacheCounters; traffic: TrafficCounters }
  | { section: "stats-cache"; cache: CacheCounters };

const w = (n: Num, width: number) => String(n).padStart(width);
const u12 = (n: Num) => w(n, 12);
const u20 = (n: Num) => w(n, 20);

export function cacheSummary(name: string, c: CacheCounters): string {
  return `cache ${name}:\n`
    + `current active connections:\t${u12(c.active)}\n`
    + `connections created:\t\t${u12(c.addOk)}\tfailed:\t${u12(c.addFail)}\n`
    + `connections updated:\t\t${u12(c.updOk)}\tfailed:\t${u12(c.updFail)}\n`
    + `connections destroyed:\t\t${u12(c.delOk)}\tfailed:\t${u12(c.delFail)}\n\n`;
}

export function cacheDetail(name: string, c: CacheCounters): string {
  return `cache:${name}\tactive objects:\t\t${u12(c.objects)}\n`
    + `\tactive/total entries:\t\t${u12(c.active)}/${u12(c.tableEntries)}\n`
    + `\tcreation OK/failed:\t\t${u12(c.addOk)}/${u12(c.addFail)}\n`
    + `\t\tno memory available:\t${u12(c.addFailNoMemory)}\n`
    + `\t\tno space left in cache:\t${u12(c.addFailNoSpace)}\n`
    + `\tupdate OK/failed:\t\t${u12(c.updOk)}/${u12(c.updFail)}\n`
    + `\t\tentry not found:\t${u12(c.updFailNotFound)}\n`
    + `\tdeletion created/failed:\t${u12(c.delOk)}/${u12(c.delFail)}\n`
    + `\t\tentry not found:\t${u12(c.delFailNotFound)}\n\n`;
}

export function trafficText(t: TrafficCounters): string {
  return `traffic processed:\n${u20(t.bytes)} Bytes      ${u20(t.packets)} Pckts\n\n`;
}

function linkCounters(l: LinkStats): string {
  return `${u20(l.sent.bytes)} Bytes sent ${u20(l.received.bytes)} Bytes recv\n`
    + `${u20(l.sent.messages)} Pckts sent ${u20(l.received.messages)} Pckts recv\n`
    + `${u20(l.sent.errors)} Error send ${u20(l.received.errors)} Error recv\n\n`;
}

const LINK_LABEL = { udp: "UDP", multicast: "multicast", tcp: "TCP", corosync: "Corosync" } as const;

/** The active link's block in -s and -s network. */
export function linkSummary(l: LinkStats): string {
  let head = `${LINK_LABEL[l.type]} traffic (active device=${l.device})`;
  if (l.type === "tcp") {
    const state = (up: boolean | undefined) => (up ? "connected" : "disconnected");
    head += ` server=${state(l.tcp?.serverConnected)} client=${state(l.tcp?.clientConnected)}`;
  }
  return `${head}:\n${linkCounters(l)}`;
}

/** One link's block in -s link. */
export function linkDetail(l: LinkStats): string {
  const role = l.active ? "ACTIVE" : "BACKUP";
  return `${LINK_LABEL[l.type]} traffic device=${l.device} status=${l.status} role=${role}:\n${linkCounters(l)}`;
}

export function messageTracking(n: NetworkCounters): string {
  return `message tracking:\n${u20(n.recvMalformed)} Malformed msgs ${u20(n.recvLost)} Lost msgs\n\n`;
}

export function networkDetail(n: NetworkCounters): string {
  return "network statistics:\n\trecv:\n"
    + `\t\tMalformed messages:\t${u20(n.recvMalformed)}\n`
    + `\t\tWrong protocol version:\t${u20(n.recvBadVersion)}\n`
    + `\t\tMalformed header:\t${u20(n.recvBadHeader)}\n`
    + `\t\tMalformed payload:\t${u20(n.recvBadPayload)}\n`
    + `\t\tBad message type:\t${u20(n.recvBadType)}\n`
    + `\t\tTruncated message:\t${u20(n.recvTruncated)}\n`
    + `\t\tBad message size:\t${u20(n.recvBadSize)}\n`
    + "\tsend:\n"
    + `\t\tMalformed messages:\t${u20(n.sendMalformed)}\n\n`
    + "sequence tracking statistics:\n\trecv:\n"
    + `\t\tPackets lost:\t\t${u20(n.recvLost)}\n`
    + `\t\tPackets before:\t\t${u20(n.recvBefore)}\n\n`
    + (n.recvRefused ? authDetail(n.recvRefused) : "");
}

const REFUSAL_LABEL: Record<string, string> = {
  missing: "Not authenticated:", truncated: "Truncated frame:", key: "Unknown key:",
  mac: "Bad MAC:\t", stale: "Stale epoch:\t", replay: "Replayed:\t",
};

/** ctsync's own block (Authenticate on): datagrams refused before decode, by reason. */
function authDetail(refused: Record<string, number>): string {
  const lines = Object.entries(refused).map(([k, v]) => `\t\t${REFUSAL_LABEL[k] ?? k}\t${u20(v)}\n`);
  return `authentication statistics:\n\trecv refused:\n${lines.join("")}\n`;
}

/** "N day(s) H h M min" or "M min", as conntrackd rounds it (down). */
export function uptimeText(seconds: number): string {
  const s = Math.trunc(seconds);
  const days = Math.trunc(s / 86400);
  const allMinutes = Math.trunc(s / 60);
  const hours = Math.trunc(allMinutes / 60) % 24;
  const minutes = allMinutes % 60;
  const dayText = days ? `${days} day${days !== 1 ? "s" : ""} ` : "";
  return dayText + (hours ? `${hours} h ${minutes} min` : `${minutes} min`);
}

export function runtimeText(r: RuntimeCounters, local: LocalCounters, now: number): string {
  return `daemon uptime: ${uptimeText(now - r.startTime)}\n\n`
    + "netlink stats:\n"
    + `\tevents received:\t${u20(r.eventsReceived)}\n`
    + `\tevents filtered:\t${u20(r.eventsFiltered)}\n`
    + `\tevents unknown type:\t\t${u12(r.eventsUnknownType)}\n`
    + `\tcatch event failed:\t\t${u12(r.catchEventFailed)}\n`
    + `\tdump unknown type:\t\t${u12(r.dumpUnknownType)}\n`
    + `\tnetlink overrun:\t\t${u12(r.netlinkOverrun)}\n`
    + `\tflush kernel table:\t\t${u12(r.kernelTableFlush)}\n`
    + `\tresync with kernel table:\t${u12(r.kernelTableResync)}\n`
    + `\tcurrent buffer size (in bytes):\t${u12(r.netlinkBufferSize)}\n\n`
    + "runtime stats:\n"
    + `\tchild process failed:\t\t${u12(r.childProcessFailed)}\n`
    + `\t\tchild process segfault:\t${u12(r.childProcessSegfault)}\n`
    + `\t\tchild process termsig:\t${u12(r.childProcessTermsig)}\n`
    + `\tselect failed:\t\t\t${u12(r.selectFailed)}\n`
    + `\twait failed:\t\t\t${u12(r.waitFailed)}\n`
    + `\tlocal read failed:\t\t${u12(local.localReadFailed)}\n`
    + `\tlocal unknown request:\t\t${u12(local.localUnknownRequest)}\n\n`;
}

export function resendQueueText(items: readonly ResendQueueItem[]): string {
  let s = `resent queue (len=${items.length})\n`;
  for (const it of items) {
    s += it.kind === "object" ? `object -> seq:${it.seq}\n` : `control -> seq:${it.seq} flags:${it.flags}\n`;
  }
  return s;
}

export function queuesText(q: QueueStats): string {
  let s = `allocated queue nodes:\t\t${u12(q.allocatedNodes)}\n\n`;
  for (const x of q.queues) {
    s += `queue ${x.name}:\n`
      + `current elements:\t\t${u12(x.current)}\n`
      + `maximum elements:\t\t${u12(x.max)}\n`
      + `not enough space errors:\t${u12(x.noSpaceErrors)}\n\n`;
  }
  return s;
}

export function processesText(list: readonly ProcessInfo[]): string {
  return list.map((p) => `PID=${p.pid} type=${p.type}\n`).join("");
}

/** The whole text of one -s request. */
export function statsText(d: StatsData): string {
  switch (d.section) {
    case "general": case "expect":
      return cacheSummary("internal", d.internal) + cacheSummary("external", d.external)
        + trafficText(d.traffic) + (d.activeLink ? linkSummary(d.activeLink) : "") + messageTracking(d.network);
    case "network": return networkDetail(d.network) + (d.activeLink ? linkSummary(d.activeLink) : "");
    case "cache": return cacheDetail("internal", d.internal) + cacheDetail("external", d.external);
    case "link": return d.links.map(linkDetail).join("");
    case "rsqueue": return resendQueueText(d.items);
    case "queue": return queuesText(d.queues);
    case "runtime": return runtimeText(d.runtime, d.local, d.now);
    case "process": return processesText(d.processes);
    case "stats": return cacheSummary("stats", d.cache) + trafficText(d.traffic);
    case "stats-cache": return cacheDetail("stats", d.cache);
  }
}
