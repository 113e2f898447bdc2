// Prints benchmark results as an aligned text table (and keeps them for JSON).
export type Row = Record<string, string | number>;

export function formatTable(rows: Row[]): string {
  if (rows.length === 0) return "(no results)";
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number) => (typeof v === "number" ? formatNumber(v) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? "").length)));
  const line = (vals: string[]) => "| " + vals.map((v, i) => v.padEnd(widths[i])).join(" | ") + " |";
  return [
    line(cols),
    "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|",
    ...rows.map((r) => line(cols.map((c) => cell(r[c] ?? "")))),
  ].join("\n");
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3);
}
