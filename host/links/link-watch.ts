// Link state as conntrackd learns it: rtnetlink's link group (RTNLGRP_LINK)
// tells of every change to any device's flags or carrier as it happens. The
// watcher only wakes its owner, who reads the state of the devices it cares
// about itself: nothing to do, and no wakeup, while nothing changes.
import { NetlinkSocket, RECV_AGAIN } from "../kernel/netlink.ts";

const SLOT = 8192;
const BATCH = 4;

export class LinkWatch {
  private readonly buf = new Uint8Array(SLOT * BATCH);

  private constructor(private readonly sock: NetlinkSocket) {}

  /** Calls `onChange` once after each batch of link messages (or an overrun: some went unseen). */
  static open(onChange: () => void): LinkWatch {
    const watch = new LinkWatch(NetlinkSocket.open({ protocol: "route", recvSlot: SLOT }));
    watch.sock.onReadable(() => {
      watch.drain();
      onChange();
    });
    return watch;
  }

  /** Reads what is queued and forgets it: which device changed, and how, is read afresh by the owner. */
  private drain(): void {
    while (this.sock.recvInto(this.buf, BATCH) !== RECV_AGAIN);
  }

  close(): void {
    this.sock.close();
  }
}
