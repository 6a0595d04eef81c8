import { defineCommand } from "citty";
import { reportHost, trustHost } from "../backends/ssh/hosts.ts";
import { Transport } from "../backends/ssh/transport.ts";
import { LOCAL_HOST } from "../config/hosts.ts";
import { openContext } from "../engine/context.ts";
import { BatchFailure, UsageError, didYouMean } from "../errors.ts";
import { output } from "../output/style.ts";
import { renderTable } from "../output/table.ts";
import { rootArgs } from "./_args.ts";

export default defineCommand({
  meta: { name: "hosts", description: "The declared hosts and whether they answer; `sv hosts trust NAME` records a host's key" },
  args: {
    ...rootArgs,
    action: { type: "positional", required: false, description: "trust", valueHint: "trust" },
    name: { type: "positional", required: false, description: "The host to trust", valueHint: "name" },
  },
  async run({ args }) {
    const ctx = await openContext({ root: args.root });
    const hosts = [...ctx.project.hosts.values()].filter((h) => h.name !== LOCAL_HOST);
    if (args.action !== undefined) {
      if (args.action !== "trust") throw new UsageError(`unknown hosts action "${args.action}"`, "use `sv hosts` or `sv hosts trust NAME`");
      const host = hosts.find((h) => h.name === args.name);
      if (!args.name) throw new UsageError("sv hosts trust needs a host name", `hosts are ${hosts.map((h) => h.name).join(", ") || "not declared (sv.yml hosts:)"}`);
      if (!host) {
        const guess = didYouMean(args.name, hosts.map((h) => h.name));
        throw new UsageError(`unknown host "${args.name}"`, guess ? `did you mean "${guess}"?` : "declare it in sv.yml's hosts:");
      }
      const { fingerprints, added } = trustHost(host);
      if (output.json) console.log(JSON.stringify({ host: host.name, added, fingerprints, known_hosts: host.knownHosts }));
      else if (!output.quiet) console.log(`${added ? "trusted" : "already trusted"} ${host.name} (${host.address}): ${fingerprints.join(", ")}${added ? ` (recorded in ${host.knownHosts})` : ""}`);
      return;
    }
    const transport = new Transport(ctx.paths);
    const reports = await Promise.all(hosts.map((h) => reportHost(transport, h)));
    if (output.json) console.log(JSON.stringify({ hosts: reports }));
    else if (!output.quiet) {
      const rows = reports.map((r) => [r.name, `${r.user ? `${r.user}@` : ""}${r.address}:${r.port}`, r.status, r.latency_ms === null ? "-" : `${r.latency_ms} ms`, r.error ?? ""]);
      console.log(hosts.length ? renderTable([{ header: "HOST" }, { header: "ADDRESS" }, { header: "STATUS" }, { header: "LATENCY", align: "right" }, { header: "ERROR" }], rows) : "no hosts are declared (sv.yml hosts:)");
    }
    if (reports.some((r) => !r.reachable)) throw new BatchFailure("");
  },
});
