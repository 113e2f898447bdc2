// npm run demo: the FTP expectation-failover story of conntrack-tools' manual,
// with ctsyncd on both firewalls, told step by step with the real outputs.
// The cluster and the story live in test/support (the end-to-end tests run
// the same story); this only chooses the daemon and checks for root.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

if (process.getuid?.() !== 0) {
  console.error("The demo builds a client, two firewalls and a server in network namespaces, which needs root.");
  console.error("Run it as root: sudo npm run demo");
  process.exit(1);
}

const daemon = process.env.CTSYNC_E2E_DAEMON ?? join(ROOT, "bin/ctsyncd");
const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "test/support/ftp-story-print.ts"), ...process.argv.slice(2)], {
  cwd: ROOT, stdio: "inherit", env: { ...process.env, CTSYNC_E2E_DAEMON: daemon },
});
process.exit(r.status ?? 1);
