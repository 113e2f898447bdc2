// /metrics: the daemon's counters in the Prometheus text exposition format
// (version 0.0.4). Names start with ctsync_; counters end in _total.
import type { CacheWhich, RecordKind } from "../control/api.ts";
import type { EventHubCounters } from "./events.ts";
import { COMMIT_BUCKETS, type ApiSource } from "./source.ts";

type Num = number | bigint;
type Labels = Record<string, string | number>;

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function labelText(l: Labels | undefined): string {
  if (!l || Object.keys(l).length === 0) return "";
  return `{${Object.entries(l).map(([k, v]) => `${k}="${escape(String(v))}"`).join(",")}}`;
}

/** Builds the text family by family: HELP and TYPE once, then the samples. */
class Exposition {
  private out: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string, samples: [Labels | undefined, Num][]): void {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) this.out.push(`${name}${labelText(l)} ${String(v)}`);
  }

  raw(line: string): void {
    this.out.push(line);
  }

  text(): string {
    return `${this.out.join("\n")}\n`;
  }
}

export async function metricsText(s: ApiSource, hub: EventHubCounters): Promise<string> {
  const [runtime, network, links, traffic, history] = await Promise.all([
    s.runtime(), s.network(), s.links(), s.traffic(), s.commitHistory(),
  ]);
  const kinds: RecordKind[] = s.expectationSync ? ["ct", "expect"] : ["ct"];
  const caches: { which: CacheWhich; kind: RecordKind; c: Awaited<ReturnType<ApiSource["cacheCounters"]>> }[] = [];
  for (const which of ["internal", "external"] as const) {
    for (const kind of kinds) caches.push({ which, kind, c: await s.cacheCounters(which, kind) });
  }
  const rsqueue = s.mode === "ftfw" ? (await s.resendQueue()).length : null;
  const queues = await s.queues();
  const m = new Exposition();

  m.family("ctsync_start_time_seconds", "gauge", "Unix time the daemon started.", [[undefined, runtime.startTime]]);
  m.family("ctsync_kernel_events_total", "counter", "Conntrack events received from the kernel.", [[undefined, runtime.eventsReceived]]);
  m.family("ctsync_kernel_events_filtered_total", "counter", "Kernel events dropped by the filters.", [[undefined, runtime.eventsFiltered]]);
  m.family("ctsync_kernel_events_unknown_total", "counter", "Kernel events of an unknown type.", [[undefined, runtime.eventsUnknownType]]);
  m.family("ctsync_netlink_overruns_total", "counter", "Netlink event socket overruns (events lost by the kernel).", [[undefined, runtime.netlinkOverrun]]);
  m.family("ctsync_kernel_resyncs_total", "counter", "Resynchronizations of the internal cache with the kernel table.", [[undefined, runtime.kernelTableResync]]);
  m.family("ctsync_kernel_flushes_total", "counter", "Flushes of the kernel table.", [[undefined, runtime.kernelTableFlush]]);
  m.family("ctsync_netlink_buffer_bytes", "gauge", "Receive buffer of the netlink event socket.", [[undefined, runtime.netlinkBufferSize]]);
  m.family("ctsync_traffic_bytes_total", "counter", "Bytes of the flows seen in kernel events (conntrack accounting).", [[undefined, traffic.bytes]]);
  m.family("ctsync_traffic_packets_total", "counter", "Packets of the flows seen in kernel events (conntrack accounting).", [[undefined, traffic.packets]]);

  const linkLabels = (i: number) => ({ link: i, type: links[i].type, device: links[i].device });
  m.family("ctsync_link_up", "gauge", "1 when the link's device is RUNNING.", links.map((l, i) => [linkLabels(i), l.status === "RUNNING" ? 1 : 0]));
  m.family("ctsync_link_active", "gauge", "1 for the link used for sending.", links.map((l, i) => [linkLabels(i), l.active ? 1 : 0]));
  for (const [field, help] of [["messages", "Sync messages"], ["bytes", "Bytes"], ["errors", "Errors"]] as const) {
    m.family(`ctsync_link_${field}_total`, "counter", `${help} sent and received on each dedicated link.`, links.flatMap((l, i) => [
      [{ ...linkLabels(i), direction: "sent" }, l.sent[field]],
      [{ ...linkLabels(i), direction: "received" }, l.received[field]],
    ] as [Labels, Num][]));
  }

  m.family("ctsync_messages_lost_total", "counter", "Sync messages lost (sequence numbers skipped by the peer's stream).", [[undefined, network.recvLost]]);
  m.family("ctsync_messages_before_total", "counter", "Sync messages received with a sequence number before the expected one.", [[undefined, network.recvBefore]]);
  m.family("ctsync_messages_malformed_total", "counter", "Malformed sync messages received, by cause (cause=\"any\" is their total).", [
    [{ cause: "any" }, network.recvMalformed],
    [{ cause: "version" }, network.recvBadVersion],
    [{ cause: "header" }, network.recvBadHeader],
    [{ cause: "payload" }, network.recvBadPayload],
    [{ cause: "type" }, network.recvBadType],
    [{ cause: "truncated" }, network.recvTruncated],
    [{ cause: "size" }, network.recvBadSize],
  ]);
  if (network.recvRefused) {
    m.family("ctsync_datagrams_refused_total", "counter", "Datagrams refused by authentication before any decode, by cause.",
      Object.entries(network.recvRefused).map(([cause, n]) => [{ cause }, n] as [Labels, Num]));
  }
  m.family("ctsync_messages_send_malformed_total", "counter", "Sync messages that could not be built.", [[undefined, network.sendMalformed]]);

  const cacheLabels = (x: (typeof caches)[number]) => ({ cache: x.which, kind: x.kind });
  m.family("ctsync_cache_entries", "gauge", "Live entries of each cache.", caches.map((x) => [cacheLabels(x), x.c.active]));
  m.family("ctsync_cache_objects", "gauge", "Objects allocated in each cache, alive or dead (FTFW keeps dead ones for resends).", caches.map((x) => [cacheLabels(x), x.c.objects]));
  m.family("ctsync_cache_operations_total", "counter", "Cache additions, updates and deletions, by result.", caches.flatMap((x) => [
    [{ ...cacheLabels(x), op: "add", result: "ok" }, x.c.addOk],
    [{ ...cacheLabels(x), op: "add", result: "failed" }, x.c.addFail],
    [{ ...cacheLabels(x), op: "update", result: "ok" }, x.c.updOk],
    [{ ...cacheLabels(x), op: "update", result: "failed" }, x.c.updFail],
    [{ ...cacheLabels(x), op: "delete", result: "ok" }, x.c.delOk],
    [{ ...cacheLabels(x), op: "delete", result: "failed" }, x.c.delFail],
  ] as [Labels, Num][]));

  const delayed = await s.delayedFlows();
  if (delayed) {
    m.family("ctsync_delayed_flows", "gauge", "New flows waiting out DelayReplication before they are synchronized.", [[undefined, delayed.waiting]]);
    m.family("ctsync_delayed_flows_total", "counter", "Flows that waited out DelayReplication, by outcome: sent after the wait, or ended first and never sent.", [
      [{ outcome: "sent" }, delayed.released], [{ outcome: "ended_unsent" }, delayed.endedUnsent],
    ]);
  }
  if (rsqueue !== null) m.family("ctsync_resend_queue_length", "gauge", "Messages in FTFW's resend queue awaiting an acknowledgement.", [[undefined, rsqueue]]);
  m.family("ctsync_queue_elements", "gauge", "Elements in each internal queue.", queues.queues.map((q) => [{ queue: q.name }, q.current]));
  m.family("ctsync_queue_full_total", "counter", "Elements refused by each internal queue for lack of space.", queues.queues.map((q) => [{ queue: q.name }, q.noSpaceErrors]));

  m.family("ctsync_commit_duration_seconds", "histogram", "Duration of the commits of the external cache to the kernel.", []);
  COMMIT_BUCKETS.forEach((le, i) => m.raw(`ctsync_commit_duration_seconds_bucket{le="${le}"} ${history.buckets[i]}`));
  m.raw(`ctsync_commit_duration_seconds_bucket{le="+Inf"} ${history.count}`);
  m.raw(`ctsync_commit_duration_seconds_sum ${history.secondsSum}`);
  m.raw(`ctsync_commit_duration_seconds_count ${history.count}`);
  m.family("ctsync_commit_entries_total", "counter", "Entries committed to the kernel, and entries it refused.", [
    [{ result: "committed" }, history.committed], [{ result: "failed" }, history.failed],
  ]);
  m.family("ctsync_commits_busy_total", "counter", "Commits skipped because another was running.", [[undefined, history.busy]]);

  m.family("ctsync_api_event_clients", "gauge", "Clients of the API's event stream.", [[undefined, hub.clients]]);
  m.family("ctsync_api_event_clients_dropped_total", "counter", "Event-stream clients dropped for not reading fast enough.", [[undefined, hub.clientsDropped]]);
  m.family("ctsync_api_events_dropped_total", "counter", "Events the API could not queue for its clients.", [[undefined, hub.eventsDropped]]);
  return m.text();
}
