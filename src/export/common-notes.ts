// Keys that no target maps the same way, said once here for every target that cannot take them.
import type { Service } from "../config/schema.ts";
import type { Notes, Target } from "./report.ts";

const DEFAULT_LOG = { maxSizeBytes: 10 * 1024 * 1024, keep: 5 };

/** Notes for the keys a target has no place for, when the service sets them. */
export function unmappedCommon(svc: Service, notes: Notes, target: Target): void {
  if (svc.retryAfterError) notes.unmapped("retry_after_error", target === "systemd" ? "a unit that hit its start limit stays failed until `systemctl reset-failed`" : "the engine's own restart policy decides; it has no retry after giving up");
  const customLog = svc.log.maxSizeBytes !== DEFAULT_LOG.maxSizeBytes || svc.log.keep !== DEFAULT_LOG.keep;
  if (customLog && target === "systemd") notes.unmapped("log", "the journal keeps the output; its own limits apply (SystemMaxUse= in journald.conf)");
  if (customLog && target === "kubernetes") notes.unmapped("log", "the kubelet rotates container logs by its own settings (containerLogMaxSize, containerLogMaxFiles)");
  if (target !== "systemd") {
    if (svc.startDelayMs > 0) notes.unmapped("start_delay", "no engine setting waits before a container starts");
    if (svc.notifyDelayMs > 0) notes.unmapped("notify_delay", "no engine setting delays dependents after a service is ready");
    if (svc.onFailure.length) notes.unmapped("on_failure", "the engine runs no actions when a service fails; use its events or your monitoring");
  }
}
