// FTFW's state, in one structure: the sequence numbers, the acknowledgement
// window of what we receive, the greeting, and the flight window of what we
// send. Its
// transitions (what HELLO, HELLO_BACK, ACK, NACK, RESYNC and ALIVE do to the
// resend queue and the windows) are sync.ts's ftfwRecv, digestCtl, ackRange
// and engineXmit, and are written as a table in assembly/README.md ("FTFW").
import { NEVER } from "./timers";

// Our greeting: HELLO rides on what we send from the start until the peer
// answers with HELLO_BACK.
export const HELLO_INIT: u8 = 0; // nothing sent yet
export const HELLO_SAY: u8 = 1; //  saying HELLO
export const HELLO_DONE: u8 = 2; // the peer answered

@final @unmanaged export class Ftfw {
  /** The sequence number of our next message. */
  nextSeq: u32;
  /** The last sequence number received (once seqSet); NOTRACK and ALARM count losses with it too. */
  lastSeqRecv: u32;
  seqSet: bool;
  /** ACKWindowSize: we acknowledge the peer's messages every this many. */
  windowSize: i32;
  /** Messages still to come before our next ACK. */
  window: i32;
  /** The first received message not yet acknowledged (while ackFromSet). */
  ackFrom: u32;
  ackFromSet: bool;
  helloState: u8;
  /** The peer greeted us: our next message carries HELLO_BACK. */
  sayHelloBack: bool;
  /** The peer's last message carried HELLO (it restarted, caches empty). */
  peerGreeting: bool;
  /** ResendQueueSize: what we sent and keep until acknowledged. */
  resendQueueSize: u32;
  /** How many unacknowledged messages data may leave in flight. */
  inFlightMax: u32;
  /** When to probe a peer we wait on (ms), or NEVER. */
  probeAt: f64;
}

export function newFtfw(firstSeq: u32, windowSize: u32, resendQueueSize: u32): Ftfw {
  const f = changetype<Ftfw>(heap.alloc(offsetof<Ftfw>()));
  f.nextSeq = firstSeq;
  f.lastSeqRecv = 0;
  f.seqSet = false;
  f.windowSize = <i32>max<u32>(windowSize, 1);
  f.window = f.windowSize;
  f.ackFrom = 0;
  f.ackFromSet = false;
  f.helloState = HELLO_INIT;
  f.sayHelloBack = false;
  f.peerGreeting = false;
  f.resendQueueSize = resendQueueSize;
  f.inFlightMax = 4 * <u32>f.windowSize;
  f.probeAt = NEVER;
  return f;
}
