// One end of a dedicated link for test/channel.test.ts, run inside a network
// namespace with `ip netns exec`. It opens the links of a conntrackd.conf Sync
// section (argv[2]: the file) and speaks JSON lines: commands on stdin,
// events on stdout.
//   in:  {op:"send", hex}            send on the current link
//        {op:"udp", from, to, port, hex}   a raw datagram from any local address
//        {op:"tcp", from, to, port}  a raw connection attempt
//        {op:"blast", n, size}       n datagrams as fast as the link takes them
//        {op:"quiet"}                stop reporting each datagram received
//        {op:"stats"} | {op:"close"}
//   out: {ev:"ready", warnings, payload} {ev:"recv", i, hex, stream?} {ev:"drop", i, address}
//        {ev:"switch", ...SwitchEvent} {ev:"stats", links, current} {ev:"error", message}
import { createInterface } from "node:readline";
import dgram from "node:dgram";
import net from "node:net";
import { loadConfig } from "../../host/config/load.ts";
import { openMultichannel, type Multichannel } from "../../host/links/multichannel.ts";

const out = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const bytes = (h: string) => new Uint8Array(Buffer.from(h, "hex"));

async function main(): Promise<void> {
  const { config } = loadConfig(process.argv[2]);
  const sync = config.sync!;
  let m: Multichannel;
  try {
    m = await openMultichannel(sync.channels, sync.defaultChannel, { reconnectMs: 100, errorQueueLength: sync.errorQueueLength });
  } catch (e) {
    out({ ev: "error", message: (e as Error).message });
    process.exit(2);
  }
  let quiet = false; // for rate measures: count only, print nothing per datagram
  let rxFirst = 0, rxLast = 0; // when the first and the last datagram came, for rates
  m.onReceive((b, i, stream) => {
    rxLast = performance.now();
    if (rxFirst === 0) rxFirst = rxLast;
    if (!quiet) out({ ev: "recv", i, hex: hex(b), stream });
  });
  m.channels.forEach((c, i) => c.onDrop((from) => out({ ev: "drop", i, address: from.address })));
  m.onSwitch((e) => out({ ev: "switch", ...e }));
  out({ ev: "ready", warnings: m.warnings, payload: m.channels.map((c) => c.payloadSize) });

  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line);
    switch (cmd.op) {
      case "send": out({ ev: "sent", ok: m.send(bytes(cmd.hex)) }); break;
      case "udp": await rawUdp(cmd); break;
      case "tcp": rawTcp(cmd); break;
      case "blast": blast(m, cmd.n, cmd.size); break;
      case "quiet": quiet = true; out({ ev: "quiet" }); break;
      case "stats": out({ ev: "stats", links: m.stats(), up: m.channels.map((c) => c.isUp()), current: m.index, rxMs: rxLast - rxFirst }); break;
      case "close": await m.close(); out({ ev: "closed" }); process.exit(0);
    }
  }
}

async function rawUdp(cmd: { from: string; to: string; port: number; hex: string }): Promise<void> {
  const s = dgram.createSocket(net.isIPv6(cmd.to) ? "udp6" : "udp4");
  await new Promise<void>((r) => s.bind(0, cmd.from, () => r()));
  s.send(bytes(cmd.hex), cmd.port, cmd.to, () => { s.close(); out({ ev: "udp-sent" }); });
}

function rawTcp(cmd: { from: string; to: string; port: number }): void {
  const s = net.connect({ host: cmd.to, port: cmd.port, localAddress: cmd.from });
  s.on("error", () => {});
  s.on("close", () => out({ ev: "tcp-closed" }));
  s.on("connect", () => s.write(bytes("1000000800000000")));
}

/** Sends n datagrams, yielding to the event loop now and then so the callbacks run. */
function blast(m: Multichannel, n: number, size: number): void {
  const payload = new Uint8Array(size);
  const t0 = process.hrtime.bigint();
  let i = 0;
  const step = () => {
    for (let k = 0; k < 256 && i < n; k++, i++) m.send(payload);
    if (i < n) setImmediate(step);
    else out({ ev: "blasted", ms: Number(process.hrtime.bigint() - t0) / 1e6 });
  };
  step();
}

main().catch((e) => {
  out({ ev: "error", message: String(e?.stack ?? e) });
  process.exit(1);
});
