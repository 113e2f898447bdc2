// conntrack-tools' own conntrackd test suite (tests/conntrackd in 1.4.8:
// scenarios.yaml and tests.yaml), run with ctsyncd in conntrackd's place.
// Its scenarios and checks are restated here in our words, one test each,
// with the same topology, the same configurations and the same shell checks;
// only the names that would clash on a shared machine differ (namespaces
// carry this process's id, files live in a temporary folder).
//
//   simple_stats: a Stats-mode daemon answering -s and each -s section.
//   basic_2_peer_network_tcp_notrack: two routers syncing over TCP in NOTRACK
//   with both caches disabled; the scenario starts once -s says
//   server=connected and client=connected on both; then a ping through the
//   first router must show up in the second's kernel table within 5 s.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CTSYNCD } from "../support/pair.ts";
import { isRoot } from "../support/netns.ts";

const skip = isRoot() ? false : "needs root (network namespaces)";
const dir = mkdtempSync(join(tmpdir(), "ct-suite-"));
const env = { ...process.env, CONNTRACKD: CTSYNCD, CONNTRACK: "conntrack" };

/** Runs a line of the suite with bash, $CONNTRACKD being ctsyncd; its exit status. */
function sh(line: string, timeoutMs = 15_000): { status: number; out: string } {
  const r = spawnSync("bash", ["-c", line], { env, encoding: "utf8", timeout: timeoutMs });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function mustSh(line: string): void {
  const r = sh(line);
  if (r.status !== 0) throw new Error(`\`${line}\` exited ${r.status}: ${r.out}`);
}

/** The daemon a config file's lock names, killed by that PID if it is still there. */
function killByLock(lock: string): void {
  let pid = 0;
  try { pid = Number(readFileSync(lock, "utf8").trim()); } catch { return; } // -k removed it: stopped
  if (pid > 0) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
}

describe("conntrack-tools' suite, scenario simple_stats (ctsyncd as $CONNTRACKD)", { skip, concurrency: 1 }, () => {
  const conf = join(dir, "conntrackd_test_simple_stats");
  const lock = join(dir, "simple_stats.lock");
  before(() => {
    if (skip) return;
    writeFileSync(conf, `General {
  HashSize 8192
  LockFile ${lock}
  UNIX { Path ${join(dir, "simple_stats.ctl")} }
}
Stats {
  LogFile ${join(dir, "conntrackd-stats.log")}
}
`);
    mustSh(`$CONNTRACKD -C ${conf} -d`);
  });
  after(() => {
    sh(`$CONNTRACKD -C ${conf} -k`);
    killByLock(lock);
  });

  // Each check as tests.yaml writes it: a grep that must find its word, or a section that must answer (even with nothing).
  const checks: [string, string][] = [
    ["stats_general", `$CONNTRACKD -C ${conf} -s | grep -q "cache stats"`],
    ["stats_network", `$CONNTRACKD -C ${conf} -s network`],
    ["stats_runtime", `$CONNTRACKD -C ${conf} -s runtime | grep -q uptime`],
    ["stats_process", `$CONNTRACKD -C ${conf} -s process`],
    ["stats_queue", `$CONNTRACKD -C ${conf} -s queue`],
    ["stats_ct", `$CONNTRACKD -C ${conf} -s ct | grep -q traffic`],
    ["stats_expect", `$CONNTRACKD -C ${conf} -s expect`],
  ];
  for (const [name, line] of checks) {
    test(name, () => {
      const r = sh(line);
      assert.equal(r.status, 0, `\`${line}\` exited ${r.status}: ${r.out}`);
    });
  }
});

describe("conntrack-tools' suite, scenario basic_2_peer_network_tcp_notrack (ctsyncd as $CONNTRACKD)", { skip, concurrency: 1 }, () => {
  const tag = `cts${process.pid}`;
  const ns = { ns1: `${tag}-ns1`, ns2: `${tag}-ns2`, nsr1: `${tag}-nsr1`, nsr2: `${tag}-nsr2` };
  const routerConf = (name: "nsr1" | "nsr2", addr: string, peer: string, dev: string) => {
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, `Sync {
  Mode NOTRACK {
    DisableExternalCache on
    DisableInternalCache on
  }
  TCP {
    IPv4_address ${addr}
    IPv4_Destination_Address ${peer}
    Interface ${dev}
    Port 3780
  }
}
General {
  LogFile ${join(dir, `${name}.log`)}
  LockFile ${join(dir, `${name}.lock`)}
  UNIX { Path ${join(dir, `${name}.ctl`)} }
}
`);
    return file;
  };
  let nsr1 = "", nsr2 = "";

  before(() => {
    if (skip) return;
    // network-setup.sh start: a client (ns1), a router pair (nsr1 forwards and masquerades, nsr2 its peer), a server (ns2).
    const ip = (...a: string[]) => execFileSync("ip", a, { stdio: "ignore" });
    for (const n of Object.values(ns)) ip("netns", "add", n);
    ip("link", "add", "veth0", "netns", ns.ns1, "type", "veth", "peer", "name", "veth1", "netns", ns.nsr1);
    ip("link", "add", "veth0", "netns", ns.nsr1, "type", "veth", "peer", "name", "veth0", "netns", ns.ns2);
    ip("link", "add", "veth2", "netns", ns.nsr1, "type", "veth", "peer", "name", "veth0", "netns", ns.nsr2);
    ip("-net", ns.ns1, "addr", "add", "192.168.10.2/24", "dev", "veth0");
    ip("-net", ns.ns1, "link", "set", "up", "dev", "veth0");
    ip("-net", ns.ns1, "route", "add", "10.0.1.0/24", "via", "192.168.10.1", "dev", "veth0");
    ip("-net", ns.nsr1, "addr", "add", "10.0.1.1/24", "dev", "veth0");
    ip("-net", ns.nsr1, "addr", "add", "192.168.10.1/24", "dev", "veth1");
    ip("-net", ns.nsr1, "link", "set", "up", "dev", "veth0");
    ip("-net", ns.nsr1, "link", "set", "up", "dev", "veth1");
    ip("-net", ns.nsr1, "route", "add", "default", "via", "192.168.10.2");
    execFileSync("ip", ["netns", "exec", ns.nsr1, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    ip("-net", ns.nsr1, "addr", "add", "192.168.100.2/24", "dev", "veth2");
    ip("-net", ns.nsr1, "link", "set", "up", "dev", "veth2");
    ip("-net", ns.nsr2, "addr", "add", "192.168.100.3/24", "dev", "veth0");
    ip("-net", ns.nsr2, "link", "set", "up", "dev", "veth0");
    ip("-net", ns.ns2, "addr", "add", "10.0.1.2/24", "dev", "veth0");
    ip("-net", ns.ns2, "link", "set", "up", "dev", "veth0");
    ip("-net", ns.ns2, "route", "add", "default", "via", "10.0.1.1");
    // nsr1 masquerades what leaves towards the server: its ruleset makes it track connections.
    const rules = join(dir, "ruleset.nft");
    writeFileSync(rules, "table ip filter {\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n    oif veth0 masquerade\n  }\n}\n");
    execFileSync("ip", ["netns", "exec", ns.nsr1, "nft", "-f", rules]);
    nsr1 = routerConf("nsr1", "192.168.100.2", "192.168.100.3", "veth2");
    nsr2 = routerConf("nsr2", "192.168.100.3", "192.168.100.2", "veth0");
    mustSh(`ip netns exec ${ns.nsr1} $CONNTRACKD -C ${nsr1} -d`);
    mustSh(`ip netns exec ${ns.nsr2} $CONNTRACKD -C ${nsr2} -d`);
  });

  after(() => {
    for (const [conf, name] of [[nsr1, "nsr1"], [nsr2, "nsr2"]]) {
      if (conf) sh(`$CONNTRACKD -C ${conf} -k 2>/dev/null`);
      killByLock(join(dir, `${name}.lock`));
    }
    for (const n of Object.values(ns)) spawnSync("ip", ["netns", "del", n], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  });

  test("the scenario starts: both routers' -s say server=connected and client=connected within 5 s", () => {
    for (const [n, conf] of [[ns.nsr1, nsr1], [ns.nsr2, nsr2]]) {
      for (const word of ["server=connected", "client=connected"]) {
        const line = `timeout 5 bash -c -- 'while ! ip netns exec ${n} $CONNTRACKD -C ${conf} -s | grep -q "${word}"; do sleep 0.5; done'`;
        const r = sh(line, 10_000);
        assert.equal(r.status, 0, `${n}: -s never said ${word}: ${sh(`ip netns exec ${n} $CONNTRACKD -C ${conf} -s`).out}`);
      }
    }
  });

  test("tcp_notrack_replicate_icmp: a ping through nsr1 shows up in nsr2's kernel table within 5 s", () => {
    mustSh(`ip netns exec ${ns.ns1} ping -c1 10.0.1.2 >/dev/null`);
    const line = `timeout 5 bash -c -- 'while ! ip netns exec ${ns.nsr2} $CONNTRACK -L -p icmp 2>/dev/null | grep -q icmp; do sleep 0.5; done'`;
    const r = sh(line, 10_000);
    assert.equal(r.status, 0, `nsr2's table never showed the ICMP flow: ${sh(`ip netns exec ${ns.nsr2} conntrack -L`).out}`);
  });
});
