// The attack every HA firewall guide warns of, as a test: whoever can put a
// datagram on the sync link with the primary's source address writes state
// into the backup, and at the next failover into its kernel: pinholes chosen
// by the attacker. A third namespace on the sync link sends well-formed NEW
// messages (an ESTABLISHED flow to an SSH port nobody opened, an FTP control
// flow and the expectation of a data port) from the primary's address; after
// the backup's commit, the kernel's own `conntrack -L` on the backup shows
// them. This documents the risk of sync without authentication, conntrackd's
// and ctsyncd's alike.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { Lab, missing, sendDatagram, until, type Impl } from "../support/interop-lab.ts";
import { CoreHarness } from "../support/core.ts";
import { loadFixtures, hexBytes } from "../support/fixtures.ts";
import type { Conntrack } from "../../host/record-view.ts";

const absent = await missing();
const skip = absent.length ? `missing: ${absent.join(", ")}` : false;

/** The attacker's datagrams, each one NEW message in conntrackd's format. */
function forgedDatagrams(): { hex: string; what: string }[] {
  const h = new CoreHarness();
  const T = (name: string) => h.k(name);
  const ssh: Conntrack = {
    family: "ipv4", src: "203.0.113.66", dst: "192.0.2.22", l4proto: 6, sport: 40022, dport: 22,
    tcpState: 3, status: 0x18e, timeout: 432000, mark: 0,
  };
  const out = [{ hex: Buffer.from(h.encodeCt(ssh, T("T_CT_NEW"), 4242)).toString("hex"), what: "an ESTABLISHED flow to port 22" }];
  // An FTP control flow with its helper and the expectation it announced, as conntrackd sent them (golden vectors), made NEW.
  const ftp = loadFixtures("sync").find((f) => f.name === "notrack-ftp.json")!;
  for (const m of ftp.messages.filter((x) => x.entry === "e1" || x.entry === "x1")) {
    const [d] = h.decode(hexBytes(m.hex));
    const bytes = d.ct ? h.encodeCt(d.ct, T("T_CT_NEW"), 4243) : h.encodeExp(d.exp!, T("T_EXP_NEW"), 4244);
    out.push({ hex: Buffer.from(bytes).toString("hex"), what: d.ct ? "an FTP control flow with helper ftp" : "the expectation of FTP data port 50020" });
  }
  return out;
}

describe("spoofing: a third host on the sync link forges the primary's datagrams (no authentication)", { skip, concurrency: 1 }, () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.create("sp", 2);
    await lab.addIntruder();
    await lab.spoof(lab.nodes[0].addr);
  });
  after(async () => { await lab?.destroy(); });

  for (const impl of ["ctsyncd", "conntrackd"] as Impl[]) {
    test(`${impl}: the forged flows reach the backup's external cache, and its kernel after -c`, async () => {
      const [primary, backup] = lab.nodes;
      try {
        await lab.flushKernels();
        await primary.start(impl, { mode: "NOTRACK", transport: "udp", peer: backup.addr });
        await backup.start(impl, { mode: "NOTRACK", transport: "udp", peer: primary.addr });
        for (const d of forgedDatagrams()) await sendDatagram(lab.intruderNs!, primary.addr, backup.addr, d.hex);
        await until("the forged SSH flow in the backup's external cache", async () =>
          /src=203\.0\.113\.66 dst=192\.0\.2\.22 sport=40022 dport=22/.test(await backup.ctlOk(["-e", "ct"])), 5000);
        assert.match(await backup.ctlOk(["-e", "expect"]), /dport=50020/, "the forged expectation is cached");
        await backup.ctlOk(["-c"]);
        await until("the forged flows in the backup's kernel", async () => {
          const table = await backup.conntrack("-L");
          return /src=203\.0\.113\.66 dst=192\.0\.2\.22 sport=40022 dport=22/.test(table) && /dport=21 .*helper=ftp/.test(table);
        }, 10_000);
        if (impl === "ctsyncd") {
          // conntrackd 1.4.7 commits expectations only in some cache sizes; ctsyncd always does: the pinhole is open.
          await until("the forged expectation in the backup's kernel", async () => /dport=50020/.test(await backup.conntrack("-L", "expect")), 5000);
        }
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${await lab.evidence()}`);
      } finally {
        await lab.stopAll();
      }
    });
  }
});
