import { test } from "node:test";
import assert from "node:assert/strict";
import { CliError, DEFAULT_CONFIG_PATH, parseCli, usage, type ClientRequest } from "../host/control/cli.ts";
import { CONTROL_REQUEST, CTSYNC_JSON_FLAG, CTSYNC_ORIGIN_FLAG, requestCode, requestName, requestWords } from "../host/control/requests.ts";

const words = (line: string) => (line ? line.split(" ") : []);
const action = (line: string) => parseCli(words(line)).action;
const request = (line: string): ClientRequest => {
  const a = action(line);
  assert.equal(a.kind, "request", `"${line}" should be a client request`);
  return (a as { request: ClientRequest }).request;
};
const refused = (line: string, message: string) =>
  assert.throws(() => parseCli(words(line)), (e: unknown) => {
    assert.ok(e instanceof CliError, `"${line}": expected a CliError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });

// --- running the daemon ------------------------------------------------------

test("no flag runs in the foreground with the default configuration", () => {
  assert.deepEqual(parseCli([]), {
    action: { kind: "run", mode: "foreground" }, configPath: DEFAULT_CONFIG_PATH, warnings: [],
  });
  assert.equal(DEFAULT_CONFIG_PATH, "/etc/conntrackd/conntrackd.conf");
});

test("-d runs as a daemon; -C names the configuration, whatever the word", () => {
  assert.deepEqual(parseCli(["-d", "-C", "/tmp/a.conf"]), {
    action: { kind: "run", mode: "daemon" }, configPath: "/tmp/a.conf", warnings: [],
  });
  assert.equal(parseCli(["-C", "-odd-name.conf"]).configPath, "-odd-name.conf");
  assert.equal(parseCli(["-C", "a", "-C", "b"]).configPath, "b");
  assert.deepEqual(action("-d -d"), { kind: "run", mode: "daemon" });
});

test("-v and -h answer at once, ignoring what follows", () => {
  assert.deepEqual(action("-v"), { kind: "version" });
  assert.deepEqual(action("-h"), { kind: "help" });
  assert.deepEqual(action("-v -bogus"), { kind: "version" });
  assert.deepEqual(action("-C /x.conf -h -i -e"), { kind: "help" });
  assert.equal(parseCli(["-C", "/x.conf", "-h"]).configPath, "/x.conf");
});

// --- client commands and their optional arguments -------------------------------

test("-i and -e dump conntracks by default, expectations with expect or any prefix of it", () => {
  assert.deepEqual(request("-i"), { kind: "dump", cache: "internal", target: "ct", format: "plain" });
  assert.deepEqual(request("-e"), { kind: "dump", cache: "external", target: "ct", format: "plain" });
  for (const arg of ["ct", "c"]) assert.equal((request(`-i ${arg}`) as { target: string }).target, "ct");
  for (const arg of ["expect", "exp", "ex", "e"]) {
    assert.deepEqual(request(`-e ${arg}`), { kind: "dump", cache: "external", target: "expect", format: "plain" });
  }
});

test("an empty argument matches the first choice, as strncmp(.., 0) does in conntrackd", () => {
  assert.equal((request("-i") as { target: string }).target, "ct");
  assert.deepEqual(parseCli(["-e", ""]).action, { kind: "request", request: { kind: "dump", cache: "external", target: "ct", format: "plain" } });
});

test("-c, -F and -R act on both tables by default, or on ct or expect", () => {
  for (const [flag, kind] of [["-c", "commit"], ["-F", "flush-kernel"], ["-R", "resync-kernel"]] as const) {
    assert.deepEqual(request(flag), { kind, target: "both" });
    assert.deepEqual(request(`${flag} ct`), { kind, target: "ct" });
    assert.deepEqual(request(`${flag} exp`), { kind, target: "expect" });
  }
});

test("-f flushes both caches by default, or internal or external by any prefix", () => {
  assert.deepEqual(request("-f"), { kind: "flush-cache", cache: "both" });
  assert.deepEqual(request("-f internal"), { kind: "flush-cache", cache: "internal" });
  assert.deepEqual(request("-f int"), { kind: "flush-cache", cache: "internal" });
  assert.deepEqual(request("-f e"), { kind: "flush-cache", cache: "external" });
});

test("-s sections by name and prefix, in conntrackd's order of preference", () => {
  const cases: [string, string][] = [
    ["-s", "general"], ["-s ct", "general"], ["-s network", "network"], ["-s n", "network"],
    ["-s cache", "cache"], ["-s c", "cache"], ["-s runtime", "runtime"], ["-s r", "runtime"],
    ["-s link", "link"], ["-s l", "link"], ["-s rsqueue", "rsqueue"], ["-s rs", "rsqueue"],
    ["-s process", "process"], ["-s queue", "queue"], ["-s q", "queue"], ["-s expect", "expect"], ["-s exp", "expect"],
  ];
  for (const [line, section] of cases) {
    assert.deepEqual(request(line), { kind: "stats", section, format: "plain" }, line);
  }
});

test("-s multicast is the old spelling of -s link, with a warning", () => {
  const r = parseCli(["-s", "multicast"]);
  assert.deepEqual(r.action, { kind: "request", request: { kind: "stats", section: "link", format: "plain" } });
  assert.deepEqual(r.warnings, ['-s multicast is the old name of -s link; please write "link"']);
  assert.deepEqual(parseCli(["-s", "m"]).warnings.length, 1);
});

test("-k, -n, -B and -t", () => {
  assert.deepEqual(request("-k"), { kind: "kill" });
  assert.deepEqual(request("-n"), { kind: "request-resync" });
  assert.deepEqual(request("-B"), { kind: "bulk-send" });
  assert.deepEqual(request("-t"), { kind: "reset-timers" });
});

test("a flag after a client command is not taken for its argument", () => {
  assert.deepEqual(parseCli(["-i", "-C", "/x.conf"]), {
    action: { kind: "request", request: { kind: "dump", cache: "internal", target: "ct", format: "plain" } },
    configPath: "/x.conf", warnings: [],
  });
});

test("the same client command twice is one command", () => {
  assert.deepEqual(request("-i exp -i expect"), { kind: "dump", cache: "internal", target: "expect", format: "plain" });
});

// --- output formats -----------------------------------------------------------

test("-x asks for XML dumps, before or after -i/-e", () => {
  assert.deepEqual(request("-i -x"), { kind: "dump", cache: "internal", target: "ct", format: "xml" });
  assert.deepEqual(request("-e exp -x"), { kind: "dump", cache: "external", target: "expect", format: "xml" });
  assert.deepEqual(request("-x -i"), { kind: "dump", cache: "internal", target: "ct", format: "xml" });
});

test("-j and --json ask for JSON dumps and statistics", () => {
  assert.deepEqual(request("-i -j"), { kind: "dump", cache: "internal", target: "ct", format: "json" });
  assert.deepEqual(request("--json -e expect"), { kind: "dump", cache: "external", target: "expect", format: "json" });
  assert.deepEqual(request("-s cache --json"), { kind: "stats", section: "cache", format: "json" });
  assert.deepEqual(request("-j -s"), { kind: "stats", section: "general", format: "json" });
});

// --- errors ---------------------------------------------------------------

test("an unknown flag, a bundled flag, a stray word", () => {
  refused("-z", 'unknown option "-z" (see -h; flags are single letters, given one per word)');
  refused("-ix", 'unknown option "-ix" (see -h; flags are single letters, given one per word)');
  refused("--help", 'unknown option "--help" (see -h; flags are single letters, given one per word)');
  refused("-k now", 'unexpected argument "now": it follows no flag that takes one');
  refused("foo", 'unexpected argument "foo": it follows no flag that takes one');
});

test("a bad argument names the flag and the choices", () => {
  refused("-i foo", '-i: unknown argument "foo" (expected ct, expect)');
  refused("-e cts", '-e: unknown argument "cts" (expected ct, expect)');
  refused("-c all", '-c: unknown argument "all" (expected ct, expect)');
  refused("-F both", '-F: unknown argument "both" (expected ct, expect)');
  refused("-R x", '-R: unknown argument "x" (expected ct, expect)');
  refused("-f both", '-f: unknown argument "both" (expected internal, external)');
  refused("-s stats", '-s: unknown argument "stats" (expected network, cache, runtime, multicast, link, rsqueue, process, queue, ct, expect)');
});

test("-C without a file name", () => {
  refused("-C", "-C needs a configuration file name");
  assert.throws(() => parseCli(["-C", ""]), { message: "-C needs a configuration file name" });
});

test("two different client commands at once", () => {
  refused("-i -e", "-e conflicts with -i: give one client command at a time");
  refused("-i ct -i exp", "-i conflicts with -i: give one client command at a time");
  refused("-k -s", "-s conflicts with -k: give one client command at a time");
  refused("-c -F", "-F conflicts with -c: give one client command at a time");
});

test("-d with a client command", () => {
  refused("-d -k", "-d (run as a daemon) cannot be combined with the client command -k");
  refused("-i -d", "-d (run as a daemon) cannot be combined with the client command -i");
});

test("-x without -i/-e, -j without -i/-e/-s, and both at once", () => {
  refused("-x", "-x needs a client command: XML output needs -i or -e");
  refused("-d -x", "-x needs a client command: XML output needs -i or -e");
  refused("-s -x", "-x cannot be used with -s: XML output needs -i or -e");
  refused("-k -x", "-x cannot be used with -k: XML output needs -i or -e");
  refused("-j", "-j needs a client command: JSON output needs -i, -e or -s");
  refused("-c --json", "--json cannot be used with -c: JSON output needs -i, -e or -s");
  refused("-i -x -j", "-j conflicts with -x: choose XML or JSON output, not both");
});

// --- usage ------------------------------------------------------------------

test("usage lists every flag, and says where -x and -j apply", () => {
  const text = usage("ctsyncd");
  assert.match(text, /^Usage: ctsyncd \[commands\] \[options\]$/m);
  for (const flag of ["-d", "-C", "-v", "-h", "-c", "-f", "-F", "-i", "-e", "-k", "-s", "-R", "-n", "-B", "-x", "-t", "-j, --json"]) {
    assert.match(text, new RegExp(`^  ${flag}[ ,]`, "m"), `usage lacks ${flag}`);
  }
  assert.match(text, /-x, XML output \(only with -i or -e\)/);
  assert.match(text, /JSON output \(only with -i, -e or -s/);
});

// --- control request codes ----------------------------------------------------

test("each client command maps to conntrackd's request code", () => {
  const cases: [string, keyof typeof CONTROL_REQUEST, number][] = [
    ["-i", "CT_DUMP_INTERNAL", 16], ["-e", "CT_DUMP_EXTERNAL", 17], ["-i exp", "EXP_DUMP_INTERNAL", 40],
    ["-e exp", "EXP_DUMP_EXTERNAL", 41], ["-i -x", "CT_DUMP_INT_XML", 24], ["-e -x", "CT_DUMP_EXT_XML", 25],
    ["-i exp -x", "EXP_DUMP_INT_XML", 47], ["-e exp -x", "EXP_DUMP_EXT_XML", 48],
    ["-c", "ALL_COMMIT", 46], ["-c ct", "CT_COMMIT", 18], ["-c exp", "EXP_COMMIT", 42],
    ["-F", "ALL_FLUSH_MASTER", 43], ["-F ct", "CT_FLUSH_MASTER", 0], ["-F exp", "EXP_FLUSH_MASTER", 38],
    ["-R", "ALL_RESYNC_MASTER", 44], ["-R ct", "CT_RESYNC_MASTER", 1], ["-R exp", "EXP_RESYNC_MASTER", 39],
    ["-f", "ALL_FLUSH_CACHE", 45], ["-f int", "CT_FLUSH_INT_CACHE", 33], ["-f ext", "CT_FLUSH_EXT_CACHE", 34],
    ["-s", "STATS", 21], ["-s ct", "STATS", 21], ["-s network", "STATS_NETWORK", 28], ["-s cache", "STATS_CACHE", 29],
    ["-s runtime", "STATS_RUNTIME", 30], ["-s link", "STATS_LINK", 31], ["-s rsqueue", "STATS_RSQUEUE", 32],
    ["-s process", "STATS_PROCESS", 35], ["-s queue", "STATS_QUEUE", 36], ["-s expect", "EXP_STATS", 37],
    ["-k", "KILL", 20], ["-n", "REQUEST_DUMP", 23], ["-B", "SEND_BULK", 22], ["-t", "RESET_TIMERS", 26],
  ];
  for (const [line, name, code] of cases) {
    const req = request(line);
    assert.equal(requestName(req), name, line);
    assert.equal(requestCode(req), code, line);
  }
});

test("JSON requests carry ctsync's flag on top of the plain code", () => {
  assert.equal(requestCode(request("-i -j")), 16 | CTSYNC_JSON_FLAG);
  assert.equal(requestCode(request("-s rsqueue -j")), 32 | CTSYNC_JSON_FLAG);
  assert.ok(Object.values(CONTROL_REQUEST).every((c) => (c & CTSYNC_JSON_FLAG) === 0));
});

test("the native client's request codes are control/requests.ts's (one protocol, written twice: C cannot import it)", async () => {
  const { readFileSync } = await import("node:fs");
  const { CONTROL_REQUEST, CTSYNC_JSON_FLAG } = await import("../host/control/requests.ts");
  const c = readFileSync(new URL("../native/client.c", import.meta.url), "utf8");
  const enumBody = /enum \{([^}]*)\};/.exec(c)?.[1] ?? "";
  const inC = Object.fromEntries([...enumBody.matchAll(/([A-Z_]+) = (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  assert.ok(Object.keys(inC).length >= 30, "the C table was read");
  for (const [name, code] of Object.entries(inC)) assert.equal(code, CONTROL_REQUEST[name as keyof typeof CONTROL_REQUEST], name);
  assert.equal(Number(/#define JSON_FLAG (0x[0-9a-f]+)/.exec(c)?.[1]), CTSYNC_JSON_FLAG);
});

// --- --origin (ctsync's own: one Corosync member's entries) ---------------------

test("--origin goes with -c and -e, in either order, and sets the origin flag and a second int", () => {
  assert.deepEqual(request("-c --origin 3"), { kind: "commit", target: "both", origin: 3 });
  assert.deepEqual(request("--origin 7 -e exp"), { kind: "dump", cache: "external", target: "expect", format: "plain", origin: 7 });
  assert.equal(requestCode(request("-c ct --origin 3")), CONTROL_REQUEST.CT_COMMIT | CTSYNC_ORIGIN_FLAG);
  assert.deepEqual(requestWords(request("-e -j --origin 2")), [CONTROL_REQUEST.CT_DUMP_EXTERNAL | CTSYNC_JSON_FLAG | CTSYNC_ORIGIN_FLAG, 2]);
  assert.deepEqual(requestWords(request("-c")), [CONTROL_REQUEST.ALL_COMMIT]);
});

test("--origin is refused without a node id or with another command", () => {
  refused("-c --origin", "--origin needs a Corosync node id (1 to 4294967294), not nothing");
  refused("-c --origin 0", '--origin needs a Corosync node id (1 to 4294967294), not "0"');
  refused("-c --origin x", '--origin needs a Corosync node id (1 to 4294967294), not "x"');
  refused("-i --origin 2", "--origin goes with -c or -e only (the external cache's entries from one Corosync member), not with -i");
  refused("-F --origin 2", "--origin goes with -c or -e only (the external cache's entries from one Corosync member), not with -F");
});
