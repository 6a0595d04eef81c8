// Who this sv is, and whether an sv recorded as the owner of a transition is still alive (owners are
// always local sv processes, whatever backend runs the unit).
import { isSameProcess, selfTicks } from "../runtime/identity.ts";

export interface Self {
  pid: number;
  ticks: number;
}

export function whoAmI(): Self {
  return { pid: process.pid, ticks: selfTicks() };
}

/** Is the sv recorded as `pid` + `ticks` still alive? */
export function isAlive(pid: number | null, ticks: number | null): boolean {
  return isSameProcess(pid, ticks);
}
