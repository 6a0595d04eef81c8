// Rules about where services run: `host:` names a declared host, and every dependent can reach every
// dependency it gets an address of (a host on another host over a shared network; this machine when declared).
import { didYouMean } from "../errors.ts";
import { type HostSpec, LOCAL_HOST, type Networks, addressBetween } from "./hosts.ts";
import type { Problem } from "./problems.ts";
import type { Service } from "./schema.ts";

export function hostProblems(services: Map<string, Service>, hosts: Map<string, HostSpec>, networks: Networks, settingsFile: string): Problem[] {
  const problems: Problem[] = [];
  const remoteHosts = [...hosts.keys()].filter((h) => h !== LOCAL_HOST);
  for (const svc of services.values()) {
    const host = svc.remote?.host;
    if (host === undefined) continue;
    const at = { file: svc.file, path: [...svc.path, "host"] };
    if (host === LOCAL_HOST) problems.push({ ...at, message: `"${LOCAL_HOST}" is this machine as the hosts reach it: leave host: out to run ${svc.name} here` });
    else if (!hosts.has(host)) {
      const guess = didYouMean(host, remoteHosts);
      const known = remoteHosts.length ? `hosts are ${remoteHosts.join(", ")}` : `declare it in ${settingsFile}'s hosts:`;
      problems.push({ ...at, message: `unknown host "${host}" (${guess ? `did you mean "${guess}"?` : known})` });
    }
  }
  for (const svc of services.values()) problems.push(...reachProblems(svc, services, hosts, networks));
  return problems;
}

/** Each dependency with a port must be reachable from where `svc` runs. */
function reachProblems(svc: Service, services: Map<string, Service>, hosts: Map<string, HostSpec>, networks: Networks): Problem[] {
  const from = svc.remote?.host;
  if (from === undefined || !hosts.has(from) || from === LOCAL_HOST) return [];
  const problems: Problem[] = [];
  for (const name of Object.keys(svc.dependsOn)) {
    const dep = services.get(name);
    if (!dep || dep.port === undefined) continue;
    const at = { file: svc.file, path: [...svc.path, "depends_on"], message: "" };
    const to = dep.remote?.host;
    if (to === from || (to !== undefined && !hosts.has(to))) continue;
    if (to === undefined) {
      const local = hosts.get(LOCAL_HOST);
      if (!local) problems.push({ ...at, message: `${svc.name} runs on ${from} and depends on ${name}, which runs on this machine: say how ${from} reaches it with hosts: { ${LOCAL_HOST}: { address: ... } } in sv.yml` });
      else if (addressBetween(hosts.get(from)!, local, networks) === null) problems.push({ ...at, message: `${from} and this machine (${LOCAL_HOST}) share none of the networks:, so ${svc.name} cannot reach ${name}` });
      continue;
    }
    if (addressBetween(hosts.get(from)!, hosts.get(to)!, networks) === null) {
      problems.push({ ...at, message: `hosts ${from} and ${to} share none of the networks:, so ${svc.name} on ${from} cannot reach ${name} on ${to} (give one of them an address on a network the other is on)` });
    }
  }
  return problems;
}
