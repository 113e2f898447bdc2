// ctsyncd: conntrackd's command line. Without a client flag it runs the
// daemon (in the foreground, or in the background with -d); with one it sends
// the request to the running daemon over the UNIX socket and prints the reply.
import { writeSync } from "node:fs";
import { createRequire } from "node:module";
import { parseCli, usage, CliError } from "./control/cli.ts";
import { loadConfig, ConfigError, type Config } from "./config/load.ts";
import { runClient } from "./control/client.ts";
import { loadProcessAddon } from "./native.ts";
import { markInOnePause, trimStartupPages } from "./process/setup.ts";

const VERSION = "ctsyncd v0.1.0, the conntrackd 1.4.7 protocol, command line and configuration";
const BACKGROUND_CHILD = "CTSYNC_BACKGROUND_CHILD";

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function readConfig(path: string): Config {
  try {
    const { config, warnings } = loadConfig(path);
    for (const w of warnings) process.stderr.write(`WARNING: ${w}\n`);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    fail(`cannot read the configuration ${path}: ${(err as Error).message}`);
  }
}

/** -d: start the daemon in a detached child and return once it is running (or say why it is not). */
function background(argv: string[]): Promise<number> {
  // Loaded here only: node:child_process (and the node:dgram it loads) cost every start about 0.7 ms.
  // A require, not import(): the bundle is compiled without a dynamic import hook (bin/host.cjs).
  const { spawn } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
  const args = argv.filter((a) => a !== "-d");
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], {
    detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, [BACKGROUND_CHILD]: "1" },
  });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  return new Promise((resolve) => {
    child.stdout.on("data", (d) => {
      if (String(d).includes("READY")) {
        child.unref();
        child.stdout.destroy();
        child.stderr.destroy();
        resolve(0);
      }
    });
    child.on("exit", (code) => {
      process.stderr.write(err);
      resolve(code || 1);
    });
  });
}

async function runDaemon(config: Config, foreground: boolean): Promise<number> {
  const child = process.env[BACKGROUND_CHILD] === "1";
  process.title = "ctsyncd"; // ps, pgrep and pidof see ctsyncd, not node
  markInOnePause();
  // Loaded here only: client commands start faster without the daemon's modules.
  // A Stats section makes conntrackd's flow logger (stats-daemon.ts) instead of the syncer.
  const start = config.stats ? (await import("./stats/daemon.ts")).StatsDaemon.start : (await import("./daemon.ts")).Daemon.start;
  let daemon: Awaited<ReturnType<typeof start>>;
  try {
    daemon = await start(config, { console: foreground && !child });
  } catch (err) {
    process.stderr.write(`ctsyncd: ${(err as Error).message}\n`);
    return 1;
  }
  if (foreground && !child) daemon.log.notice("-- starting in console mode --");
  if (child) {
    // Whoever started us (native/client.c, or background() below) returns now
    // and closes its end of our stdout and stderr. One write, without making
    // process.stdout a stream (about a millisecond of the start).
    try {
      writeSync(1, "READY\n");
    } catch {
      // the starter is gone: there is no one to tell
    }
    loadProcessAddon().quietStdio();
  }
  trimStartupPages();
  const stop = () => void daemon.shutdown(true);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => daemon.reopenLog());
  await daemon.done;
  return 0;
}

/** Runs the command; resolves with the exit status, or null when the process should end on its own. */
async function main(argv: string[]): Promise<number | null> {
  let cli;
  try {
    cli = parseCli(argv);
  } catch (err) {
    if (err instanceof CliError) fail(`ctsyncd: ${err.message}\n${usage()}`);
    throw err;
  }
  for (const w of cli.warnings) process.stderr.write(`WARNING: ${w}\n`);
  const action = cli.action;
  if (action.kind === "version") return void process.stdout.write(`${VERSION}\n`), 0;
  if (action.kind === "help") return void process.stdout.write(usage()), 0;
  const config = readConfig(cli.configPath);
  if (action.kind === "request") {
    // Let the process end by itself so a piped stdout is flushed whole.
    process.exitCode = await runClient(action.request, config.general.unixPath, { stdout: process.stdout, stderr: process.stderr });
    return null;
  }
  if (action.mode === "daemon" && process.env[BACKGROUND_CHILD] !== "1") return background(argv);
  return runDaemon(config, action.mode === "foreground");
}

main(process.argv.slice(2)).then((code) => { if (code !== null) process.exit(code); }, (err) => {
  process.stderr.write(`ctsyncd: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
