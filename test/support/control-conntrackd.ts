// The real conntrackd 1.4.7 for the control socket's interop tests: a
// configuration whose lock file, socket and log live in a temporary
// directory, its client run against any socket, and a daemon run in a
// network namespace of our own (prefix ctl-), stopped by its own PID.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Conntrack } from "../../host/record-view.ts";

export function haveConntrackd(): boolean {
  return spawnSync("conntrackd", ["-v"]).status === 0;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Writes conntrackd.conf in `dir` (FTFW, one UDP link on lo, ExpectationSync on); returns its path. */
export function writeConntrackdConf(dir: string): string {
  const conf = join(dir, "conntrackd.conf");
  writeFileSync(conf, `Sync {
	Mode FTFW {
	}
	UDP Default {
		IPv4_address 127.0.0.1
		IPv4_Destination_Address 127.0.0.2
		Port 3780
		Interface lo
		Checksum on
	}
	Options {
		ExpectationSync on
	}
}
General {
	HashSize 8192
	HashLimit 65536
	LogFile ${dir}/conntrackd.log
	LockFile ${dir}/conntrackd.lock
	UNIX {
		Path ${dir}/conntrackd.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
}
`);
  return conf;
}

/** conntrackd's own client: stdout and exit status. */
export function conntrackdClient(conf: string, args: string[]): Promise<{ stdout: string; status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("conntrackd", ["-C", conf, ...args]);
    let stdout = "", stderr = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString("latin1"); });
    child.stderr.on("data", (d: Buffer) => { stderr += d.toString("latin1"); });
    child.on("close", (status) => resolve({ stdout, status, stderr }));
  });
}

/**
 * Flows conntrack(8) inserts, with the Conntrack the daemon's cache should
 * hold for each (status: IPS_CONFIRMED only, as conntrack -I leaves it; the
 * kernel reports mark 0): NAT, IPv6, ICMPv6 and SCTP, which the capture lacks.
 */
export const WITNESS_FLOWS: { args: string[]; ct: Conntrack }[] = [
  { args: ["-p", "udp", "-s", "2001:db8::1", "-d", "2001:db8::2", "--sport", "5000", "--dport", "53", "-t", "30", "-m", "3"],
    ct: { family: "ipv6", src: "2001:db8::1", dst: "2001:db8::2", l4proto: 17, sport: 5000, dport: 53, status: 8, mark: 3 } },
  { args: ["-p", "icmpv6", "-s", "2001:db8::1", "-d", "2001:db8::2", "--icmpv6-type", "128", "--icmpv6-code", "0", "--icmpv6-id", "9", "-t", "30"],
    ct: { family: "ipv6", src: "2001:db8::1", dst: "2001:db8::2", l4proto: 58, icmp: { type: 128, code: 0, id: 9 }, status: 8, mark: 0 } },
  { args: ["-p", "tcp", "-s", "10.0.0.5", "-d", "203.0.113.7", "--sport", "33000", "--dport", "443", "--state", "SYN_SENT", "-t", "100", "--src-nat", "198.51.100.9"],
    ct: { family: "ipv4", src: "10.0.0.5", dst: "203.0.113.7", l4proto: 6, sport: 33000, dport: 443, tcpState: 1, status: 8, mark: 0, snat: "198.51.100.9" } },
  { args: ["-p", "udp", "-s", "10.0.0.5", "-d", "203.0.113.7", "--sport", "7", "--dport", "8", "-t", "100", "--dst-nat", "10.9.9.9"],
    ct: { family: "ipv4", src: "10.0.0.5", dst: "203.0.113.7", l4proto: 17, sport: 7, dport: 8, status: 8, mark: 0, dnat: "10.9.9.9" } },
  { args: ["-p", "sctp", "-s", "10.0.0.5", "-d", "203.0.113.7", "--sport", "5000", "--dport", "6000", "--state", "ESTABLISHED", "--orig-vtag", "5", "--reply-vtag", "6", "-t", "100"],
    ct: { family: "ipv4", src: "10.0.0.5", dst: "203.0.113.7", l4proto: 132, sport: 5000, dport: 6000, sctp: { state: 4 }, status: 8, mark: 0 } },
];

export interface RealDaemon {
  ns: string;
  socket: string;
  stop(): Promise<void>;
}

/** Starts conntrackd in a fresh namespace with a few flows; resolves once its socket answers. */
export async function startConntrackd(dir: string, conf: string): Promise<RealDaemon> {
  const ns = `ctl-${process.pid}`;
  execFileSync("ip", ["netns", "add", ns]);
  execFileSync("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
  const child: ChildProcess = spawn("ip", ["netns", "exec", ns, "conntrackd", "-C", conf], { stdio: "ignore" });
  const socket = join(dir, "conntrackd.ctl");
  for (let i = 0; i < 50 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
  const insert = (args: string[]) => spawnSync("ip", ["netns", "exec", ns, "conntrack", "-I", ...args]);
  insert(["-p", "tcp", "-s", "192.0.2.1", "-d", "198.51.100.1", "--sport", "40000", "--dport", "22", "--state", "ESTABLISHED", "-t", "300", "-u", "ASSURED"]);
  insert(["-p", "udp", "-s", "192.0.2.1", "-d", "198.51.100.53", "--sport", "40001", "--dport", "53", "-t", "30"]);
  insert(["-p", "icmp", "-s", "192.0.2.1", "-d", "198.51.100.1", "--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "7", "-t", "30"]);
  for (const flow of WITNESS_FLOWS) insert(flow.args);
  await new Promise((r) => setTimeout(r, 300));
  return {
    ns,
    socket,
    async stop() {
      if (child.exitCode === null) {
        const closed = new Promise((r) => child.once("exit", r));
        // `ip netns exec` execs conntrackd, so this PID is conntrackd's own.
        child.kill("SIGTERM");
        await closed;
      }
      spawnSync("ip", ["netns", "del", ns]);
    },
  };
}
