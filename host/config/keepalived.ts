// The Keepalived section: ctsync's own (conntrackd has no such section and
// would refuse the file). It makes ctsyncd follow keepalived's notify FIFO
// and run primary-backup.sh's transitions itself, in-process, the moment
// keepalived writes the sync group's new state (host/keepalived/fifo.ts):
//
//   Keepalived {
//       NotifyFifo /run/keepalived/notify.fifo  # keepalived.conf's global_defs notify_fifo (or vrrp_notify_fifo)
//       SyncGroup G1                            # the vrrp_sync_group whose GROUP lines drive the transitions
//   }
//
// keepalived's own notify scripts for the group must then be left out, or
// the transitions would run twice.
import { section } from "./block.ts";
import type { ConfigReader } from "./reader.ts";
import type { KeepalivedConfig } from "./types.ts";

/** PATH_MAX-ish: keepalived takes any path; a FIFO name longer than this is a typo. */
const MAX_PATH = 4095;

export function defaultKeepalived(line: number): KeepalivedConfig {
  return { line, notifyFifo: "", syncGroup: "" };
}

export const KEEPALIVED = section<KeepalivedConfig>("Keepalived", {
  NotifyFifo(r, kw, k) {
    k.notifyFifo = r.path(kw, MAX_PATH);
  },
  SyncGroup(r, kw, k) {
    const t = r.word(kw, "the name of a vrrp_sync_group");
    // keepalived writes the name between double quotes on a line of its own
    if (/["\s]/.test(t.text)) r.fail(kw.line, `SyncGroup "${t.text}" cannot be a keepalived group name (no quotes or spaces)`);
    k.syncGroup = t.text;
  },
});

/** Both options are needed: without them the section would silently do nothing. */
export function finishKeepalived(r: ConfigReader, k: KeepalivedConfig): void {
  if (!k.notifyFifo) r.fail(k.line, "the Keepalived section needs NotifyFifo (the notify_fifo of keepalived.conf)");
  if (!k.syncGroup) r.fail(k.line, "the Keepalived section needs SyncGroup (the vrrp_sync_group to follow)");
}
