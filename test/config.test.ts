import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, DEFAULTS, loadConfig, parseConfig } from "../host/config/load.ts";
import type { Config, MulticastChannel, UnicastChannel } from "../host/config/load.ts";
import { EVENT_BUFFER_DEFAULT, EVENT_BUFFER_DEFAULT_MAX, eventBufferSizes } from "../host/kernel/kernel.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/conf", import.meta.url));
const EXAMPLES = "/usr/share/doc/conntrackd/examples";

function example(path: string) {
  const file = join(EXAMPLES, path);
  assert.ok(existsSync(file), `${file} is missing: install Debian's conntrackd package (the CI does)`);
  return loadConfig(file);
}

/** Parses text that must be valid; returns the config and warnings without the file prefix. */
function parse(text: string) {
  const { config, warnings } = parseConfig(text, "t.conf");
  return { config, warnings: warnings.map((w) => w.replace(/^t\.conf:/, "")) };
}

const LINK = "UDP { IPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2 Port 3780 }";
const UNIX = "General { UNIX { Path /run/t.ctl } }";

// --- Debian's examples -----------------------------------------------------

test("Debian example sync/ftfw: multicast link, user-space filter, defaults", () => {
  const { config, warnings } = example("sync/ftfw/conntrackd.conf");
  assert.deepEqual(warnings, []);
  const g = config.general;
  assert.equal(g.hashSize, 32768);
  assert.equal(g.hashLimit, 131072);
  assert.equal(g.logFile, "/var/log/conntrackd.log");
  assert.equal(g.lockFile, "/var/lock/conntrack.lock");
  assert.equal(g.unixPath, "/var/run/conntrackd.ctl");
  assert.equal(g.netlinkBufferSize, 2097152);
  assert.equal(g.netlinkBufferSizeMaxGrowth, 8388608);
  assert.equal(g.filter?.from, "userspace");
  assert.deepEqual(g.filter?.protocol?.protocols.map((p) => p.number), [6, 132, 33]);
  assert.equal(g.filter?.address?.policy, "ignore");
  assert.deepEqual(g.filter?.address?.ipv4.map((c) => `${c.address}/${c.prefix}`), [
    "127.0.0.1/32", "192.168.0.100/32", "192.168.1.100/32", "192.168.0.1/32", "192.168.1.1/32", "192.168.100.100/32",
  ]);
  const sync = config.sync!;
  assert.equal(sync.mode, "ftfw");
  assert.equal(sync.channels.length, 1);
  assert.equal(sync.defaultChannel, 0);
  const link = sync.channels[0] as MulticastChannel;
  assert.deepEqual(
    { type: link.type, family: link.family, address: link.address, port: link.port, ipv4Interface: link.ipv4Interface,
      interface: link.interface, snd: link.sndSocketBuffer, rcv: link.rcvSocketBuffer, checksum: link.checksum, isDefault: link.isDefault },
    { type: "multicast", family: 4, address: "225.0.0.50", port: 3780, ipv4Interface: "192.168.100.100",
      interface: "eth2", snd: 1249280, rcv: 1249280, checksum: true, isDefault: true },
  );
  assert.equal(sync.resendQueueSize, 131072);
  assert.equal(sync.ackWindowSize, 300);
  assert.equal(sync.purgeTimeout, 60);
  assert.equal(sync.commitTimeout, null);
  assert.deepEqual(sync.expectationSync, { enabled: false });
  assert.equal(config.stats, null);
  assert.equal(config.helper, null);
});

test("Debian example sync/alarm: ALARM timers", () => {
  const { config, warnings } = example("sync/alarm/conntrackd.conf");
  assert.deepEqual(warnings, []);
  assert.equal(config.sync?.mode, "alarm");
  assert.equal(config.sync?.refreshTime, 15);
  assert.equal(config.sync?.cacheTimeout, 180);
});

test("Debian example sync/notrack: NOTRACK mode", () => {
  const { config, warnings } = example("sync/notrack/conntrackd.conf");
  assert.deepEqual(warnings, []);
  assert.equal(config.sync?.mode, "notrack");
  assert.equal(config.sync?.disableInternalCache, false);
  assert.equal(config.sync?.channels[0].type, "multicast");
});

test("Debian example stats: Stats section, with conntrackd's defaults", () => {
  const { config, warnings } = example("stats/conntrackd.conf");
  assert.equal(config.sync, null);
  assert.equal(config.stats?.logFile, DEFAULTS.statsLogFile);
  assert.equal(config.general.hashSize, 8192);
  assert.deepEqual(config.general.filter?.protocol?.protocols, [{ name: "tcp", number: 6 }]);
  assert.equal(config.stats?.syslog, null);
  assert.equal(config.stats?.jsonLogFile, null);
  assert.deepEqual(warnings, []);
});

// --- our own fixtures --------------------------------------------------------

test("helper.conf: every user-space helper type, warned as not implemented", () => {
  const { config, warnings } = loadConfig(join(FIXTURES, "helper.conf"));
  const h = config.helper!;
  assert.equal(h.setup, true);
  assert.deepEqual(h.types.map((t) => `${t.name}/${t.family}/${t.protocol}/${t.queueNum}`), [
    "ftp/inet/tcp/0", "rpc/inet/tcp/1", "rpc/inet/udp/2", "tns/inet/tcp/3", "dhcpv6/inet6/udp/4",
    "mdns/inet/udp/5", "ssdp/inet/udp/6", "ssdp/inet/tcp/7", "slp/inet/udp/8",
  ]);
  assert.ok(h.types.every((t) => t.queueLen === 10240));
  assert.deepEqual(h.types[0].policies, [{ line: 11, name: "ftp", expectMax: 1, expectTimeout: 300 }]);
  assert.deepEqual(h.types[8].policies.map((p) => [p.expectMax, p.expectTimeout]), [[8, 16]]);
  assert.equal(config.sync, null);
  assert.equal(config.general.logFile, "/var/log/conntrackd.log");
  assert.deepEqual(warnings, [
    `${join(FIXTURES, "helper.conf")}:5: "Helper" is accepted but not implemented yet by ctsync: no user-space helper is loaded`,
  ]);
});

test("full.conf: every General and Sync option lands in the Config", () => {
  const path = join(FIXTURES, "full.conf");
  const { config } = loadConfig(path);
  const g = config.general;
  assert.deepEqual(
    { ...g, filter: null },
    {
      hashSize: 16384, hashLimit: 131072, logFile: "/var/log/ctsync/test.log", syslog: "local3",
      lockFile: "/run/ctsync-test.lock", unixPath: "/run/ctsync-test.ctl",
      netlinkBufferSize: 2097152, netlinkBufferSizeMaxGrowth: 8388608, netlinkOverrunResync: 45,
      netlinkEventsReliable: true, pollSecs: 15, eventIterationLimit: 200,
      scheduler: { type: "fifo", priority: 50 }, systemd: false, filter: null,
    },
  );
  const f = g.filter!;
  assert.equal(f.from, "kernelspace");
  assert.equal(f.protocol?.policy, "ignore");
  assert.deepEqual(f.protocol?.protocols.map((p) => p.number), [17, 1, 58]);
  assert.equal(f.address?.policy, "accept");
  assert.deepEqual(f.address?.ipv4, [{ address: "192.168.0.0", prefix: 16 }, { address: "10.1.2.3", prefix: 32 }]);
  assert.deepEqual(f.address?.ipv6, [{ address: "2001:db8::", prefix: 32 }, { address: "::1", prefix: 128 }]);
  assert.equal(f.state?.policy, "accept");
  assert.deepEqual(f.state?.tcp, [
    "ESTABLISHED", "CLOSED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "LISTEN",
  ]);
  const s = config.sync!;
  assert.equal(s.mode, "notrack");
  assert.equal(s.commitTimeout, 120);
  assert.equal(s.purgeTimeout, 30);
  assert.equal(s.disableInternalCache, true);
  assert.equal(s.disableExternalCache, false);
  assert.equal(s.startupResync, true);
  assert.equal(s.tcpWindowTracking, true);
  assert.deepEqual(s.expectationSync, { enabled: true, helpers: ["ftp", "sip", "q.931", "h.245", "ras"] });
  assert.equal(s.errorQueueLength, 256);
  const link = s.channels[0] as UnicastChannel;
  assert.deepEqual(link, {
    line: 52, isDefault: true, interface: "eth2", sndSocketBuffer: 1249280, rcvSocketBuffer: 1249281,
    checksum: false, type: "tcp", family: 6, address: "fe80::215:58ff:fe28:5a27",
    destination: "fe80::2d0:59ff:fe2a:775c", port: 3781,
  });
});

test("full.conf: each option not acted on yet is warned with its file:line", () => {
  const path = join(FIXTURES, "full.conf");
  const { warnings } = loadConfig(path);
  const named = warnings.map((w) => {
    const m = /^(.*):(\d+): "([^"]+)" is accepted but/.exec(w);
    assert.ok(m, `unexpected warning: ${w}`);
    assert.equal(m[1], path);
    return `${m[2]} ${m[3]}`;
  });
  assert.deepEqual(named, [
    "5 Nice", "13 Backlog", "19 PollSecs",
    "25 From Kernelspace",
  ]);
});

test("several links: Default picks the first one used, others stay in file order", () => {
  const { config, warnings } = loadConfig(join(FIXTURES, "multichannel.conf"));
  const s = config.sync!;
  assert.deepEqual(warnings, []);
  assert.equal(s.channels.length, 3);
  assert.equal(s.defaultChannel, 1);
  assert.deepEqual(s.channels.map((c) => c.isDefault), [false, true, false]);
  assert.deepEqual(s.channels.map((c) => (c as UnicastChannel).port), [3780, 3781, 3782]);
  assert.equal((s.channels[2] as UnicastChannel).address, null, "no IPv4_address: listen on any address");
  assert.equal(s.resendQueueSize, 65536);
  assert.equal(s.ackWindowSize, 100);
  assert.equal(s.startupResync, true);
  assert.deepEqual(s.expectationSync, { enabled: true, helpers: "all" });
});

test("no Default: the first link is used first", () => {
  const { config } = parse(`Sync { ${LINK} ${LINK} } ${UNIX}`);
  assert.equal(config.sync?.defaultChannel, 0);
  assert.deepEqual(config.sync?.channels.map((c) => c.isDefault), [true, false]);
});

test("two Default links: the last one wins, as in conntrackd, with a warning", () => {
  const text = `Sync {\nUDP Default { IPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2 Port 1 }\nUDP Default { IPv4_address 10.0.1.1 IPv4_Destination_Address 10.0.1.2 Port 2 }\n}\n${UNIX}`;
  const { config, warnings } = parse(text);
  assert.equal(config.sync?.defaultChannel, 1);
  assert.deepEqual(config.sync?.channels.map((c) => c.isDefault), [false, true]);
  assert.deepEqual(warnings, [
    "1: Sync has no Mode block: using FTFW, as conntrackd does",
    "3: 2 links are marked Default; the last one (line 3) is used first, as in conntrackd",
  ]);
});

test("zero values read as conntrackd's defaults; timers may sit directly in Sync", () => {
  const { config, warnings } = loadConfig(join(FIXTURES, "alarm-timers.conf"));
  assert.deepEqual(warnings, []);
  const s = config.sync!;
  assert.equal(s.mode, "alarm");
  assert.equal(s.refreshTime, 20);
  assert.equal(s.cacheTimeout, DEFAULTS.cacheTimeout);
  assert.equal(s.commitTimeout, null);
  assert.equal(s.purgeTimeout, DEFAULTS.purgeTimeout);
  assert.equal(config.general.hashSize, DEFAULTS.hashSize);
  assert.equal(config.general.netlinkOverrunResync, 30);
  assert.equal(config.general.eventIterationLimit, 100);
  assert.equal(s.channels.length, 2);
  assert.equal(s.defaultChannel, 0);
  assert.equal((s.channels[1] as MulticastChannel).ipv4Interface, null);
});

// --- defaults --------------------------------------------------------------

test("defaults: a minimal sync file gets conntrackd 1.4.7's values", () => {
  const { config, warnings } = parse(`Sync { ${LINK} }`);
  const expected: Config["general"] = {
    hashSize: 65536, hashLimit: 262144, logFile: null, syslog: null, lockFile: "/var/lock/conntrackd.lock",
    unixPath: null, netlinkBufferSize: null, netlinkBufferSizeMaxGrowth: null, netlinkOverrunResync: 30,
    netlinkEventsReliable: false, pollSecs: null, eventIterationLimit: 100, scheduler: null, systemd: false,
    filter: null,
  };
  assert.deepEqual(config.general, expected);
  const { channels, ...sync } = config.sync!;
  assert.deepEqual(sync, {
    line: 1, mode: "ftfw", defaultChannel: 0, resendQueueSize: 131072, ackWindowSize: 300, commitTimeout: null,
    purgeTimeout: 60, refreshTime: 60, cacheTimeout: 180, disableInternalCache: false, disableExternalCache: false,
    startupResync: false, tcpWindowTracking: false, delayReplication: { ms: 0, assured: false }, expectationSync: { enabled: false }, errorQueueLength: 128,
    authenticate: null,
  });
  assert.equal(channels[0].checksum, true);
  assert.equal(channels[0].sndSocketBuffer, null);
  assert.deepEqual(warnings, [
    "1: Sync has no Mode block: using FTFW, as conntrackd does",
    "1: no General.UNIX Path: clients (conntrackd -i, -k, ...) cannot reach the daemon",
  ]);
});

test("defaults: LogFile on, Syslog on, NetlinkOverrunResync on/off", () => {
  const { config } = parse(`General { LogFile on Syslog yes NetlinkOverrunResync off UNIX { Path /x } }`);
  assert.equal(config.general.logFile, "/var/log/conntrackd.log");
  assert.equal(config.general.syslog, "daemon");
  assert.equal(config.general.netlinkOverrunResync, null);
  const on = parse(`General { NetlinkOverrunResync on LogFile off }`).config.general;
  assert.equal(on.netlinkOverrunResync, 30);
  assert.equal(on.logFile, null);
});

test("an empty file is valid but does nothing, with warnings saying so", () => {
  const { config, warnings } = parse("# nothing here\n\n");
  assert.deepEqual(config.sync, null);
  assert.deepEqual(warnings, [
    "1: no Sync, Stats or Helper section: the daemon has nothing to do",
    "1: no General.UNIX Path: clients (conntrackd -i, -k, ...) cannot reach the daemon",
  ]);
});

// --- lexical matters ---------------------------------------------------------

test("comments, CRLF line ends, on/off spellings in any case, old keyword spellings", () => {
  const text = [
    "# a comment",
    "General { # after a brace",
    "\tSocketBufferSize 1024\r",
    "\tSocketBufferSizeMaxGrown 4096 # comment after a value",
    "\tNetlinkEventsReliable OFF",
    "\tUNIX { Path /run/a#b.ctl }",
    "}",
    "Sync { Mode ftfw { DisableExternalCache No } " + LINK + " Options { TCPWindowTracking Yes } }",
  ].join("\n");
  const { config, warnings } = parse(text);
  assert.equal(config.general.netlinkBufferSize, 1024);
  assert.equal(config.general.netlinkBufferSizeMaxGrowth, 4096);
  assert.equal(config.general.netlinkEventsReliable, false);
  assert.equal(config.general.unixPath, "/run/a#b.ctl");
  assert.equal(config.sync?.tcpWindowTracking, true);
  assert.deepEqual(warnings, []);
});

test("line numbers count every line, comments included", () => {
  assert.throws(() => parseConfig("# one\n# two\r\n\nGeneral {\n Foo 1\n}\n", "x.conf"), {
    name: "ConfigError",
    message: 'x.conf:5: unknown option "Foo" in General',
  });
});

test("old mode names NACK and PERSISTENT are read as FTFW and ALARM, with a warning", () => {
  const nack = parse(`Sync { Mode NACK { } ${LINK} } ${UNIX}`);
  assert.equal(nack.config.sync?.mode, "ftfw");
  assert.deepEqual(nack.warnings, ['1: mode "NACK" is the old name of FTFW; please write Mode FTFW']);
  const persistent = parse(`Sync { Mode persistent { } ${LINK} } ${UNIX}`);
  assert.equal(persistent.config.sync?.mode, "alarm");
});

// --- warnings for things conntrackd accepts but that do not work as written ---

test("several Mode blocks: FTFW, then ALARM, then NOTRACK wins, as in conntrackd", () => {
  const { config, warnings } = parse(`Sync {\nMode NOTRACK { }\nMode ALARM { RefreshTime 5 }\n${LINK} } ${UNIX}`);
  assert.equal(config.sync?.mode, "alarm");
  assert.equal(config.sync?.refreshTime, 5);
  assert.deepEqual(warnings, ["2: several sync modes given; ALARM wins as in conntrackd, ignoring NOTRACK at line 2"]);
});

test("CommitTimeout is dropped with DisableExternalCache, as conntrackd does", () => {
  const { config, warnings } = parse(`Sync { Mode FTFW { CommitTimeout 10 DisableExternalCache on } ${LINK} } ${UNIX}`);
  assert.equal(config.sync?.commitTimeout, null);
  assert.equal(config.sync?.disableExternalCache, true);
  assert.deepEqual(warnings, [
    "1: CommitTimeout cannot be combined with DisableExternalCache: CommitTimeout is ignored, as in conntrackd",
  ]);
});

test("NetlinkBufferSize above NetlinkBufferSizeMaxGrowth is warned: conntrackd ignores it", () => {
  const { warnings } = parse(`General { NetlinkBufferSize 4096 UNIX { Path /x } } Sync { Mode FTFW {} ${LINK} }`);
  assert.deepEqual(warnings, [
    "1: NetlinkBufferSize 4096 exceeds NetlinkBufferSizeMaxGrowth (unset): conntrackd then keeps the system default buffer size",
  ]);
});

test("the event socket's sizes: NetlinkBufferSize as written; without it ctsync's default, growing after overruns", () => {
  const sizes = (text: string) => {
    const g = parse(`General { ${text} UNIX { Path /x } } Sync { Mode FTFW {} ${LINK} }`).config.general;
    return eventBufferSizes(g.netlinkBufferSize, g.netlinkBufferSizeMaxGrowth);
  };
  assert.deepEqual(sizes("NetlinkBufferSize 2097152 NetlinkBufferSizeMaxGrowth 8388608"), { bufferSize: 2097152, maxGrowth: 8388608, bufferIsDefault: false });
  assert.deepEqual(sizes(""), { bufferSize: EVENT_BUFFER_DEFAULT, maxGrowth: EVENT_BUFFER_DEFAULT_MAX, bufferIsDefault: true });
  assert.deepEqual(sizes("NetlinkBufferSizeMaxGrowth 8388608"), { bufferSize: 8388608, maxGrowth: 8388608, bufferIsDefault: true });
  assert.ok(EVENT_BUFFER_DEFAULT > 212992 && EVENT_BUFFER_DEFAULT_MAX >= EVENT_BUFFER_DEFAULT);
});

test("links without a port or a peer are warned", () => {
  const { warnings } = parse(`Sync { Mode FTFW {}\nUDP { IPv4_address 10.0.0.1 } } ${UNIX}`);
  assert.deepEqual(warnings, [
    "2: UDP link has no IPv4_Destination_Address: nothing can be sent to the peer",
    "2: UDP link has no Port: conntrackd would use port 0, which peers cannot reach (3780 is customary)",
  ]);
  const mcast = parse(`Sync { Mode FTFW {}\nMulticast { IPv4_address 225.0.0.1 } } ${UNIX}`).warnings;
  assert.deepEqual(mcast, ["2: Multicast link has no Group: conntrackd would use port 0, which peers cannot reach"]);
});

test("an unknown syslog facility is warned and ignored, as conntrackd does", () => {
  const { config, warnings } = parse(`General { Syslog local9 UNIX { Path /x } } Sync { Mode FTFW {} ${LINK} }`);
  assert.equal(config.general.syslog, null);
  assert.deepEqual(warnings, [
    '1: "local9" is not a known syslog facility (daemon, local0 to local7); Syslog left unchanged, as conntrackd does',
  ]);
});

test("filter lists add up; a changed policy and a repeated address are warned", () => {
  const text = `General { UNIX { Path /x }
Filter { Address Ignore { IPv4_address 10.0.0.1 } }
Filter { Address Accept { IPv4_address 10.0.0.2 IPv4_address 10.0.0.2 } Protocol Accept { TCP udp } } }
Sync { Mode FTFW {} ${LINK} }`;
  const { config, warnings } = parse(text);
  assert.equal(config.general.filter?.address?.policy, "accept");
  assert.deepEqual(config.general.filter?.address?.ipv4.map((c) => c.address), ["10.0.0.1", "10.0.0.2"]);
  assert.deepEqual(config.general.filter?.protocol?.protocols.map((p) => p.name), ["tcp", "udp"]);
  assert.deepEqual(warnings, [
    "3: Address Accept overrides the earlier policy: every listed entry is now accepted, as in conntrackd",
    "3: 10.0.0.2 is listed twice in General.Filter.Address",
  ]);
});

test("ExpectationSync off, and an empty list meaning every helper", () => {
  const off = parse(`Sync { Mode FTFW {} ${LINK} Options { ExpectationSync off } } ${UNIX}`);
  assert.deepEqual(off.config.sync?.expectationSync, { enabled: false });
  const empty = parse(`Sync { Mode FTFW {} ${LINK} Options { ExpectationSync { } } } ${UNIX}`);
  assert.deepEqual(empty.config.sync?.expectationSync, { enabled: true, helpers: "all" });
  assert.equal(empty.warnings.length, 1);
});

// --- broken files ----------------------------------------------------------

// Each file under broken/ starts with "# expect-error: LINE: MESSAGE".
const BROKEN = join(FIXTURES, "broken");
for (const name of readdirSync(BROKEN).filter((n) => n.endsWith(".conf")).sort()) {
  test(`broken/${name} is refused with its file:line`, () => {
    const path = join(BROKEN, name);
    const header = /^# expect-error: (\d+): (.*)$/m.exec(readFileSync(path, "utf8"));
    assert.ok(header, `${name} lacks its "# expect-error: LINE: MESSAGE" header`);
    assert.throws(() => loadConfig(path), (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
      assert.equal(e.message, `${path}:${header[1]}: ${header[2]}`);
      assert.equal(e.line, Number(header[1]));
      return true;
    });
  });
}

test("a file that cannot be read is a ConfigError naming it", () => {
  assert.throws(() => loadConfig("/nonexistent/conntrackd.conf"), {
    name: "ConfigError",
    message: "/nonexistent/conntrackd.conf: cannot open the configuration file: no such file",
  });
});

test("an unterminated quote is refused", () => {
  assert.throws(() => parseConfig('General {\n LockFile "/x\n}', "q.conf"), {
    message: "q.conf:2: unterminated quote; conntrackd.conf values are written without quotes",
  });
});

test("Stats: LogFile on is conntrackd's default path, Syslog a facility, JSONLogFile ctsync's own", () => {
  const { config, warnings } = parseConfig(`Stats {
  LogFile on
  Syslog local3
  JSONLogFile on
}
General { UNIX { Path /run/x.ctl } }
`, "stats.conf");
  assert.deepEqual(warnings, []);
  assert.equal(config.stats?.logFile, "/var/log/conntrackd-stats.log");
  assert.equal(config.stats?.syslog, "local3");
  assert.equal(config.stats?.jsonLogFile, "/var/log/ctsyncd-stats.jsonl");
  const none = parseConfig("Stats {\n}\nGeneral { UNIX { Path /run/x.ctl } }\n", "none.conf").config.stats;
  assert.deepEqual([none?.logFile, none?.syslog, none?.jsonLogFile], [null, null, null], "without LogFile, no Stats log file, as conntrackd");
  assert.throws(() => parseConfig("Stats {\n NetlinkEventsReliable on\n}\n", "x.conf"), /it belongs in General/);
});

// --- the Keepalived section (ctsync's own) ------------------------------------

const SYNC_FTFW = `Sync { Mode FTFW { } ${LINK} }\n${UNIX}\n`;

test("Keepalived section: NotifyFifo and SyncGroup; absent, none", () => {
  assert.equal(parse(SYNC_FTFW).config.keepalived, null);
  const { config, warnings } = parse(`${SYNC_FTFW}Keepalived {\n NotifyFifo /run/keepalived/notify.fifo\n SyncGroup G1\n}`);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.keepalived, { line: 3, notifyFifo: "/run/keepalived/notify.fifo", syncGroup: "G1" });
});

test("Keepalived section: each mistake gives file:line", () => {
  const bad: [string, RegExp][] = [
    ["Keepalived {\n SyncGroup G1\n}", /^t\.conf:3: the Keepalived section needs NotifyFifo/],
    ["Keepalived {\n NotifyFifo /run/k.fifo\n}", /^t\.conf:3: the Keepalived section needs SyncGroup/],
    ["Keepalived {\n NotifyFifo run/k.fifo\n SyncGroup G1\n}", /^t\.conf:4: expected an absolute path after NotifyFifo, found "run\/k\.fifo"/],
    ["Keepalived {\n NotifyFifo /k\n SyncGroup\n}", /^t\.conf:5: expected the name of a vrrp_sync_group after SyncGroup, found "}"/],
    ["Keepalived {\n NotifyFifo /k\n Group G1\n}", /^t\.conf:5: unknown option "Group" in Keepalived/],
    ["Keepalived { NotifyFifo /k SyncGroup G1 }\nKeepalived { NotifyFifo /k SyncGroup G2 }", /^t\.conf:4: a second Keepalived section \(the first at line 3\)/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseConfig(`${SYNC_FTFW}${text}`, "t.conf"), (e: Error) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.match(e.message, re);
    return true;
  }, text);
});

test("Options { DelayReplication ms; DelayReplicationAssured on }: ctsync's own, off by default; mistakes give file:line", () => {
  assert.deepEqual(parse(SYNC_FTFW).config.sync!.delayReplication, { ms: 0, assured: false });
  const on = parse(`Sync { Mode FTFW { } ${LINK} Options { DelayReplication 2000 DelayReplicationAssured on } }\n${UNIX}`);
  assert.deepEqual(on.warnings, []);
  assert.deepEqual(on.config.sync!.delayReplication, { ms: 2000, assured: true });
  const alone = parse(`Sync { Mode FTFW { } ${LINK} Options { DelayReplicationAssured on } }\n${UNIX}`);
  assert.match(alone.warnings.join("\n"), /DelayReplicationAssured without DelayReplication/);
  const bad: [string, RegExp][] = [
    [`Sync { Mode FTFW { } ${LINK}\nOptions { DelayReplication soon } }`, /^t\.conf:2: expected a number after DelayReplication/],
    [`Sync { Mode FTFW { } ${LINK}\nOptions { DelayReplication 3600001 } }`, /^t\.conf:2: DelayReplication must be between 0 and 3600000, got 3600001/],
    [`Sync { Mode NOTRACK { DisableInternalCache on } ${LINK} Options { DelayReplication 100 } }`, /^t\.conf:1: DelayReplication needs the internal cache/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseConfig(`${text}\n${UNIX}`, "t.conf"), (e: Error) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.match(e.message, re);
    return true;
  }, text);
});

// --- Sync { Corosync } (ctsync's own) -------------------------------------------

test("Corosync { Group } is a link of its own; FTFW runs as NOTRACK over it, with a warning", () => {
  const { config, warnings } = parse(`Sync {\n Mode NOTRACK { }\n Corosync {\n  Group fw-zone.a\n }\n}\n${UNIX}\n`);
  assert.deepEqual(warnings, []);
  const link = config.sync!.channels[0];
  assert.deepEqual({ type: link.type, group: link.type === "corosync" ? link.group : null, line: link.line, isDefault: link.isDefault },
    { type: "corosync", group: "fw-zone.a", line: 3, isDefault: true });
  assert.equal(config.sync!.mode, "notrack");
  const ftfw = parse(`Sync {\n Mode FTFW { }\n Corosync { }\n}\n${UNIX}\n`);
  assert.equal(ftfw.config.sync!.mode, "notrack");
  assert.equal((ftfw.config.sync!.channels[0] as { group: string }).group, "ctsync");
  assert.deepEqual(ftfw.warnings, ["3: Corosync delivers reliably and in order: FTFW runs as NOTRACK over it (write Mode NOTRACK to silence this)"]);
});

test("Corosync refuses a second block, other links beside it, unknown options and bad group names, by line", () => {
  const bad = (body: string, message: string) =>
    assert.throws(() => parseConfig(`Sync {\n Mode NOTRACK { }\n${body}\n}\n${UNIX}\n`, "t.conf"), { name: "ConfigError", message: `t.conf:${message}` });
  bad(" Corosync { }\n Corosync { }", "4: only one Corosync block is allowed (line 3): corosync's own rings give redundancy");
  bad(` ${LINK}\n Corosync { }`, "4: cannot use Corosync with UDP dedicated links (line 3): all links must be of one kind");
  bad(" Corosync { }\n UDP { IPv4_address 10.0.0.1 }", "4: cannot use UDP with Corosync dedicated links (line 3): all links must be of one kind");
  bad(" Corosync {\n  Port 5405\n }", '4: unknown option "Port" in Sync.Corosync (it belongs in Sync.UDP or Sync.TCP or API)');
  bad(" Corosync {\n  Group a/b\n }", '4: "a/b" is not a Corosync group name (1 to 126 letters, digits, ".", "_" or "-")');
});

test("Sync Authenticate: a KeyFile of one or two keys, the newer last", async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const dir = mkdtempSync(join((await import("node:os")).tmpdir(), "ctsync-key-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const k1 = "11".repeat(32), k2 = "22".repeat(48);
  writeFileSync(join(dir, "k"), `# the old key, then the new\n1 ${k1}\n7 ${k2}  # rolled in today\n`, { mode: 0o600 });
  const { config, warnings } = parse(`Sync { Mode FTFW { } ${LINK}\n Authenticate {\n KeyFile ${dir}/k\n }\n}\n${UNIX}\n`);
  assert.deepEqual(warnings, []);
  assert.equal(config.sync!.authenticate!.keyFile, `${dir}/k`);
  assert.deepEqual(config.sync!.authenticate!.keys.map((k) => [k.id, Buffer.from(k.key).toString("hex")]), [[1, k1], [7, k2]]);
  assert.equal(config.sync!.authenticate!.cipher, "hmac-sha256");
  const aead = parse(`Sync { Mode FTFW { } ${LINK}\n Authenticate { KeyFile ${dir}/k Cipher XChaCha20-Poly1305 }\n}\n${UNIX}\n`);
  assert.equal(aead.config.sync!.authenticate!.cipher, "xchacha20-poly1305");
});

test("Sync Authenticate: each mistake, in the configuration or the key file, gives file:line", async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const dir = mkdtempSync(join((await import("node:os")).tmpdir(), "ctsync-key-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = (name: string, text: string, mode = 0o600) => { writeFileSync(join(dir, name), text, { mode }); return join(dir, name); };
  const good = key("good", `1 ${"ab".repeat(32)}\n`);
  const conf = (block: string) => `Sync { Mode FTFW { } ${LINK}\n${block}\n}\n${UNIX}\n`;
  const bad: [string, RegExp][] = [
    [conf("Authenticate {\n}"), /^t\.conf:2: Authenticate needs a KeyFile/],
    [conf("Authenticate {\n KeyFile keys/k\n}"), /^t\.conf:3: expected an absolute path after KeyFile/],
    [conf("Authenticate {\n Key 1\n}"), /^t\.conf:3: unknown option "Key" in Sync\.Authenticate/],
    [`Sync {\n Mode NOTRACK { }\n Corosync { }\n Authenticate { KeyFile ${good} }\n}\n${UNIX}\n`, /^t\.conf:4: Authenticate cannot go with a Corosync link/],
    [conf(`Authenticate {\n KeyFile ${good}\n Cipher AES\n}`), /^t\.conf:4: unknown Cipher "AES" \(expected HMAC-SHA256 or XChaCha20-Poly1305\)/],
    [conf(`Authenticate {\n KeyFile ${dir}/none\n}`), /^t\.conf:3: cannot read the key file .*none: no such file/],
    [conf(`Authenticate { KeyFile ${good} }\nAuthenticate { KeyFile ${good} }`), /^t\.conf:3: a second Authenticate block \(the first at line 2\)/],
    [conf(`Authenticate { KeyFile ${key("open", `1 ${"ab".repeat(32)}\n`, 0o644)} }`), /open: the key file may be read by others \(mode 644\): chmod 600 it/],
    [conf(`Authenticate { KeyFile ${key("short", `\n1 ${"ab".repeat(16)}\n`)} }`), /short:2: the key is too short: 16 bytes, at least 32/],
    [conf(`Authenticate { KeyFile ${key("long", `1 ${"ab".repeat(65)}\n`)} }`), /long:1: the key is too long: 65 bytes, at most 64/],
    [conf(`Authenticate { KeyFile ${key("id", `0 ${"ab".repeat(32)}\n`)} }`), /id:1: key id 0 is not between 1 and 255/],
    [conf(`Authenticate { KeyFile ${key("twice", `3 ${"ab".repeat(32)}\n3 ${"cd".repeat(32)}\n`)} }`), /twice:2: key id 3 appears twice/],
    [conf(`Authenticate { KeyFile ${key("three", [1, 2, 3].map((i) => `${i} ${"ab".repeat(32)}`).join("\n"))} }`), /three: 3 keys: at most two/],
    [conf(`Authenticate { KeyFile ${key("hex", `1 ${"zz".repeat(32)}\n`)} }`), /hex:1: expected "<id> <key in hex>"/],
    [conf(`Authenticate { KeyFile ${key("odd", `1 ${"a".repeat(65)}\n`)} }`), /odd:1: the key has an odd number of hex digits/],
    [conf(`Authenticate { KeyFile ${key("empty", "# nothing yet\n")} }`), /empty: the key file holds no key/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseConfig(text, "t.conf"), (e: Error) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.match(e.message, re);
    return true;
  }, text);
});
