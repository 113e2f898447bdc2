// Intrusive queues of cache entries and control-message nodes: the transmit
// queue (what goes out at the next flush), FTFW's resend queue (what was
// sent and not yet acknowledged) and DelayReplication's hold queue (new flows
// waiting out the delay). A node is in at most one queue at a time;
// its flags say which, so moving between them is O(1) with no allocation.
import { E_QPREV, E_QNEXT, EF_QUEUE_MASK, entryFlags, setEntryFlags } from "./cache";

@final @unmanaged export class Queue {
  head: usize = 0;
  tail: usize = 0;
  len: u32 = 0;
  id: u8 = 0; // EF_IN_TX, EF_IN_RS or EF_IN_HOLD
}

export function newQueue(id: u8): Queue {
  const q = changetype<Queue>(heap.alloc(offsetof<Queue>()));
  memory.fill(changetype<usize>(q), 0, offsetof<Queue>());
  q.id = id;
  return q;
}

@inline export function queueOf(n: usize): u8 {
  return entryFlags(n) & EF_QUEUE_MASK;
}

export function queuePush(q: Queue, n: usize): void {
  store<u32>(n + E_QPREV, <u32>q.tail);
  store<u32>(n + E_QNEXT, 0);
  if (q.tail != 0) store<u32>(q.tail + E_QNEXT, <u32>n);
  else q.head = n;
  q.tail = n;
  q.len++;
  setEntryFlags(n, (entryFlags(n) & ~EF_QUEUE_MASK) | q.id);
}

export function queueRemove(q: Queue, n: usize): void {
  const prev = <usize>load<u32>(n + E_QPREV);
  const next = <usize>load<u32>(n + E_QNEXT);
  if (prev != 0) store<u32>(prev + E_QNEXT, <u32>next);
  else q.head = next;
  if (next != 0) store<u32>(next + E_QPREV, <u32>prev);
  else q.tail = prev;
  q.len--;
  setEntryFlags(n, entryFlags(n) & ~EF_QUEUE_MASK);
}

/** Puts `to` in `from`'s place in the queue (an entry that moved to a new block). */
export function queueReplace(q: Queue, from: usize, to: usize): void {
  const prev = <usize>load<u32>(from + E_QPREV);
  const next = <usize>load<u32>(from + E_QNEXT);
  store<u32>(to + E_QPREV, <u32>prev);
  store<u32>(to + E_QNEXT, <u32>next);
  if (prev != 0) store<u32>(prev + E_QNEXT, <u32>to);
  else q.head = to;
  if (next != 0) store<u32>(next + E_QPREV, <u32>to);
  else q.tail = to;
  setEntryFlags(to, (entryFlags(to) & ~EF_QUEUE_MASK) | q.id);
}

@inline export function queueNext(n: usize): usize {
  return <usize>load<u32>(n + E_QNEXT);
}
