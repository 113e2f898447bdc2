// Hands the configuration's Filter section and ExpectationSync helper list to
// the core, which applies them to every kernel event.
import type { Core } from "../core.ts";
import type { FilterConfig, ExpectationSync, TcpState } from "../config/load.ts";
import { parseAddr } from "../record-view.ts";

// Kernel TCP conntrack state numbers (enum tcp_conntrack).
const TCP_STATE_NUMBER: Record<TcpState, number> = {
  SYN_SENT: 1, SYN_RECV: 2, ESTABLISHED: 3, FIN_WAIT: 4, CLOSE_WAIT: 5, LAST_ACK: 6, TIME_WAIT: 7, CLOSED: 8, LISTEN: 9,
};

export function applyFilters(core: Core, filter: FilterConfig | null, expectations: ExpectationSync): void {
  const { fn } = core;
  const policy = (p: "accept" | "ignore") => core.k(p === "accept" ? "POLICY_ACCEPT" : "POLICY_IGNORE");
  fn.filterReset();
  if (filter?.protocol) {
    for (const p of filter.protocol.protocols) fn.filterSetProtocol(policy(filter.protocol.policy), p.number);
  }
  if (filter?.state) {
    for (const s of filter.state.tcp) fn.filterSetState(policy(filter.state.policy), TCP_STATE_NUMBER[s]);
  }
  if (filter?.address) {
    const { policy: pol, ipv4, ipv6 } = filter.address;
    for (const cidr of [...ipv4, ...ipv6]) {
      const { family, bytes } = parseAddr(cidr.address);
      core.bytes.set(bytes, fn.filterScratchPtr());
      if (!fn.filterAddAddress(policy(pol), core.k(family === "ipv4" ? "AF_INET" : "AF_INET6"), cidr.prefix)) {
        throw new Error(`Filter Address: more than the core's ${256} rules`);
      }
    }
  }
  if (expectations.enabled && expectations.helpers !== "all") {
    for (const name of expectations.helpers) {
      const bytes = Buffer.from(name, "latin1");
      core.bytes.set(bytes, fn.filterScratchPtr());
      if (!fn.filterAddHelper(bytes.length)) throw new Error(`ExpectationSync: cannot add helper "${name}" (16 at most, names under 16 bytes)`);
    }
  }
}
