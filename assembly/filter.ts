// Which kernel events are synchronized: conntrackd's Filter section (layer-4
// protocols, addresses, TCP states). Accept everything until configured.
export function filterCt(rec: usize): bool {
  return true;
}

export function filterExp(rec: usize): bool {
  return true;
}
