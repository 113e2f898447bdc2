// The floor of a primary's CPU per replicated entry: what the kernel charges
// for handing each conntrack event to a reader that does nothing with it.
// Run in a namespace beside the injector (bench/suite.ts): it reads the
// events as ctsyncd's primary does (the same addon, recvmmsg in batches of
// 64, the daemon's hold-off between reads), counts them and drops them, and prints
// its own CPU once no event has come for `idle` ms. Every daemon pays at
// least this much per entry before it decodes, caches or sends anything.
//   node --import tsx bench/event-reader.ts [idleMs]
import { NetlinkSocket, RECV_AGAIN, RECV_OVERRUN, RECV_TRUNCATED } from "../host/kernel/netlink.ts";
import { HOLD_OFF_MS } from "../host/kernel/kernel.ts";

export interface EventFloor {
  events: number;
  overruns: number;
  /** user + system CPU of the reader from its first event to its last, µs. */
  cpuMicros: number;
}

const NLMSG_ERROR = 2, NLMSG_DONE = 3;

/** Netlink messages in bytes [0, len) of `buf` that are not control messages. */
function countMessages(view: DataView, len: number): number {
  let n = 0;
  for (let at = 0; at + 16 <= len; ) {
    const size = view.getUint32(at, true);
    const type = view.getUint16(at + 4, true);
    if (type !== NLMSG_ERROR && type !== NLMSG_DONE) n++;
    at += Math.max(16, (size + 3) & ~3);
  }
  return n;
}

function readUntilIdle(idleMs: number): Promise<EventFloor> {
  const sock = NetlinkSocket.open({ groups: ["conntrack-new", "conntrack-update", "conntrack-destroy"], rcvbuf: 64 << 20 });
  const buf = new Uint8Array(64 * NetlinkSocket.slotDefault);
  const view = new DataView(buf.buffer);
  const floor: EventFloor = { events: 0, overruns: 0, cpuMicros: 0 };
  let start: NodeJS.CpuUsage | undefined;
  let lastEvent = performance.now();
  return new Promise((done) => {
    sock.onReadable(() => {
      for (;;) {
        const len = sock.recvInto(buf, 64);
        if (len === RECV_AGAIN) break;
        if (len === RECV_OVERRUN || len === RECV_TRUNCATED) { floor.overruns++; continue; }
        start ??= process.cpuUsage();
        floor.events += countMessages(view, len);
        lastEvent = performance.now();
      }
      sock.holdOff(HOLD_OFF_MS);
    });
    const idle = setInterval(() => {
      if (!start || performance.now() - lastEvent < idleMs) return;
      const used = process.cpuUsage(start);
      floor.cpuMicros = used.user + used.system;
      clearInterval(idle);
      sock.close();
      done(floor);
    }, 50);
    console.log("ready");
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await readUntilIdle(Number(process.argv[2] ?? 1000))));
}
