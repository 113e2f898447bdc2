// Pacemaker's resource agent for conntrackd (resource-agents'
// ocf:heartbeat:conntrackd) driven outside a cluster: one agent action at a
// time with the environment Pacemaker would give it (OCF_ROOT, OCF_RESKEY_*,
// the clone's meta parameters), or the whole ocf-tester run, inside a Pair
// side's network namespace. Shared by test/e2e/pacemaker.test.ts and
// bench/pacemaker.ts.
//
// Two things are made per node so a run touches nothing outside its
// directory: the agent's state directory (HA_RSCTMP, where promote leaves its
// "I am master" file) and a stand-in for Pacemaker's crm_master (HA_SBIN_DIR),
// which only records the scores the agent sets.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Side } from "./pair.ts";

export const OCF_ROOT = "/usr/lib/ocf";
export const AGENT = join(OCF_ROOT, "resource.d/heartbeat/conntrackd");

/** The meta parameters of a promotable clone, which the agent's validate-all insists on. */
export const CLONE_META: Record<string, string> = {
  CRM_meta_master_node_max: "1",
  CRM_meta_master_max: "1",
  CRM_meta_clone_node_max: "1",
};

export type AgentAction = "start" | "stop" | "monitor" | "promote" | "demote" | "notify" | "validate-all" | "meta-data";

export interface AgentResult {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** What is missing here to run the agent (empty when all is there). */
export function missingForAgent(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root (network namespaces)");
  if (!existsSync(AGENT)) missing.push(`${AGENT} (Debian package resource-agents)`);
  for (const tool of ["ocf-tester", "xmllint", "conntrackd"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) missing.push(tool);
  }
  return missing;
}

/** The agent managing one daemon (`binary`: a path or a name on PATH) with a side's configuration. */
export class OcfResource {
  readonly rsctmp: string;
  readonly sbin: string;
  readonly scores: string;

  constructor(
    readonly side: Side,
    readonly binary: string,
    /** OCF_RESOURCE_INSTANCE, e.g. "conntrackd:0"; the state file is named after it. */
    readonly instance: string,
    dir: string,
    /** A directory to put first on the agent's PATH, for a `binary` given by name. */
    readonly pathDir?: string,
  ) {
    this.rsctmp = join(dir, `${instance.replace(/\W/g, "_")}-rsctmp`);
    this.sbin = join(dir, `${instance.replace(/\W/g, "_")}-sbin`);
    this.scores = join(this.sbin, "scores");
    mkdirSync(this.rsctmp, { recursive: true });
    mkdirSync(this.sbin, { recursive: true });
    const crmMaster = join(this.sbin, "crm_master");
    writeFileSync(crmMaster, `#!/bin/sh\n# stand-in for Pacemaker's crm_master: note the score\necho "$*" >> '${this.scores}'\n`);
    chmodSync(crmMaster, 0o755);
  }

  /** The environment of an agent action, as Pacemaker (or ocf-tester) sets it. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      ...this.pathEnv(),
      OCF_ROOT,
      HA_RSCTMP: this.rsctmp,
      HA_SBIN_DIR: this.sbin,
      OCF_RESOURCE_INSTANCE: this.instance,
      OCF_RESKEY_binary: this.binary,
      OCF_RESKEY_config: this.side.conf,
      OCF_RESKEY_CRM_meta_timeout: "30000",
      OCF_RESKEY_CRM_meta_interval: "0",
      ...Object.fromEntries(Object.entries(CLONE_META).map(([k, v]) => [`OCF_RESKEY_${k}`, v])),
      ...extra,
    };
  }

  /** One agent action in the side's namespace; never throws. */
  action(action: AgentAction, extra: Record<string, string> = {}, timeoutMs = 60_000): AgentResult {
    const t0 = performance.now();
    const r = spawnSync("ip", ["netns", "exec", this.side.ns.name, AGENT, action], {
      encoding: "utf8", env: this.env(extra), timeout: timeoutMs,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
  }

  /** ocf-tester against this resource; status 0 and "passed all tests" when it passes. */
  tester(timeoutMs = 180_000): AgentResult {
    const args = ["-n", this.instance, "-o", `binary=${this.binary}`, "-o", `config=${this.side.conf}`];
    for (const [k, v] of Object.entries(CLONE_META)) args.push("-o", `${k}=${v}`);
    const t0 = performance.now();
    const r = spawnSync("ip", ["netns", "exec", this.side.ns.name, "ocf-tester", "-v", ...args, AGENT], {
      encoding: "utf8", env: { ...process.env, ...this.pathEnv(), OCF_ROOT, HA_RSCTMP: this.rsctmp, HA_SBIN_DIR: this.sbin }, timeout: timeoutMs,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
  }

  private pathEnv(): { PATH?: string } {
    return this.pathDir ? { PATH: `${this.pathDir}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}` } : {};
  }

  /** Whether the agent's "promoted" state file is there. */
  promoted(): boolean {
    return existsSync(join(this.rsctmp, `conntrackd.${this.instance.replace(/:[0-9].*/, "")}.master`));
  }

  /** The scores the agent gave crm_master, one line a call ("-Q -l reboot -v 1000"). */
  scoreCalls(): string[] {
    return existsSync(this.scores) ? readFileSync(this.scores, "utf8").split("\n").filter(Boolean) : [];
  }
}

/** The OCF return codes the agent uses. */
export const OCF = { SUCCESS: 0, ERR_GENERIC: 1, ERR_CONFIGURED: 6, NOT_RUNNING: 7, RUNNING_MASTER: 8 } as const;
