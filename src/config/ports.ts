// Instance ports: with `instances: N` and `port: P`, instance i serves on P+i.
import type { Service } from "./schema.ts";

export const MAX_PORT = 65535;

/** The port of one instance (0-based) of a service: its port plus the instance number; undefined without a port. */
export function instancePort(svc: Pick<Service, "port">, instance: number): number | undefined {
  return svc.port === undefined ? undefined : svc.port + instance;
}

/** Every instance's port, in instance order: P..P+N-1 ([] without a port). */
export function servicePorts(svc: Pick<Service, "port" | "instances">): number[] {
  if (svc.port === undefined) return [];
  return Array.from({ length: svc.instances }, (_, i) => svc.port! + i);
}
