// Tell the FTP expectation-failover story step by step, with the real outputs.
// Exit status 0 only if the story worked (the listing arrived through fw2; with
// --negative: the data connection was dropped, as it must be without
// expectation sync).
//
//   tsx test/support/ftp-story-print.ts [--mode FTFW|NOTRACK|ALARM] [--multicast] [--negative]
//
// The daemons come from CTSYNC_E2E_DAEMON / CTSYNC_E2E_FW1 / CTSYNC_E2E_FW2
// (default conntrackd). scripts/demo.sh runs it as `npm run demo`.
import { isRoot, missingTools, daemonsFromEnv, type SyncMode } from "./cluster.ts";
import { runFtpStory, StoryError, type FtpTranscript, type StepRecord } from "./ftp-story.ts";

const argv = process.argv.slice(2);
const modeArg = argv.includes("--mode") ? argv[argv.indexOf("--mode") + 1]?.toUpperCase() : "FTFW";
if (!["FTFW", "NOTRACK", "ALARM"].includes(modeArg ?? "")) {
  console.error(`unknown mode ${modeArg}: use FTFW, NOTRACK or ALARM`);
  process.exit(2);
}
const mode = modeArg as SyncMode;
const transport = argv.includes("--multicast") ? "multicast" as const : "udp" as const;
const negative = argv.includes("--negative");

const say = (s = "") => process.stdout.write(`${s}\n`);
const indent = (s: string, pre = "    ") => s.split("\n").map((l) => pre + l).join("\n");

const STORY: Record<number, string> = {
  0: "Two firewalls, fw1 (primary) and fw2 (backup), each run a sync daemon on their dedicated link.",
  1: "The client talks FTP to the server through fw1. PASV makes the server announce a data port; fw1's FTP helper reads the 227 reply and creates an expectation for it.",
  2: "fw1's daemon holds the expectation in its internal cache and sends it to fw2, which keeps it in its external cache.",
  3: "fw1 fails. The gateway addresses the client and server route through move to fw2.",
  4: "fw2 takes over as keepalived's primary-backup.sh does: commit the external cache to the kernel, flush the caches, resync from the kernel, send a bulk update.",
  5: "The client connects to the announced data port, now through fw2. fw2 accepts only established or related traffic, so this works only if the expectation was committed.",
};

function tellStep(s: StepRecord): void {
  say(`\n[${s.n}] ${s.title}  (${s.ms} ms)`);
  say(indent(STORY[s.n] ?? "", "    "));
  for (const l of s.lines) say(`    ${l}`);
  for (const c of s.commands) {
    say(`    ${c.where}# ${c.command}   (${c.ms} ms${c.code ? `, exit ${c.code}` : ""})`);
    if (c.output) say(indent(c.output, "      "));
  }
}

function tellEnd(t: FtpTranscript): boolean {
  say("\nWhat fw2's log says about the commit:");
  say(t.commitLog.length ? indent(t.commitLog.join("\n")) : "    (no commit lines)");
  say("\nThe independent witness in fw2 (conntrack -L expect, right after the commit):");
  say(indent(t.witnessAfterCommit.exp || "(no expectations)"));
  say("conntrack -L in fw2 after the data connection:");
  say(indent(t.witnessAfterData.ct || "(no conntracks)"));
  say("");
  if (t.expReplicationMs !== null) say(`The expectation reached fw2's external cache ${t.expReplicationMs} ms after the 227 reply.`);
  say(`The control connection ${t.controlSurvived ? "survived the failover (NOOP answered through fw2)" : "did NOT survive the failover"}.`);
  const worked = negative ? !t.data.arrived && t.controlSurvived : t.data.arrived && t.controlSurvived;
  if (t.data.arrived) say(`The listing arrived through fw2: ${t.data.listing.trim()}`);
  else say(`The data connection through fw2 was dropped (${t.data.error} after ${t.data.afterS} s); fw2's forward chain dropped ${t.fw2Dropped} packet(s).`);
  say(`\n${worked ? "The story worked" : "The story did NOT go as it should"}` +
    `${negative ? " (negative twin: without expectation sync the data connection must be dropped)" : ""}. Total ${t.totalMs} ms.`);
  return worked;
}

async function main(): Promise<number> {
  if (!isRoot()) {
    say("This story builds two firewalls in network namespaces and needs root.");
    say("Run it as: sudo npm run demo   (or: sudo npx tsx test/support/ftp-story-print.ts)");
    return 1;
  }
  const missing = await missingTools();
  if (missing.length) {
    say(`Missing: ${missing.join(", ")}. On Debian: apt-get install conntrackd conntrack nftables iproute2 python3 iputils-arping`);
    return 1;
  }
  const d = daemonsFromEnv();
  say(`FTP expectation failover, ${mode} over ${transport}, ExpectationSync ${negative ? "Off" : "On"}; ` +
    `fw1 runs \`${d.fw1.join(" ")}\`, fw2 runs \`${d.fw2.join(" ")}\`.`);
  try {
    const t = await runFtpStory({ mode, transport, expectationSync: negative ? "off" : "on", onStep: tellStep });
    return tellEnd(t) ? 0 : 1;
  } catch (e) {
    if (e instanceof StoryError) {
      say(`\nThe story broke at ${e.message}`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = await main();
