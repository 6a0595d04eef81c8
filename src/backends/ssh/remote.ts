// The shell scripts the ssh backend runs on a host (POSIX sh with /proc; nothing installed). A unit's files
// live in `<dir>/run/UNIT.TOKEN/`: `relay` (what runs), `fate` (a symlink: "released" or "aborted", made
// once, atomically, by whoever comes first), `creator` ("PID:TICKS" of the sv that prepared it, on sv's machine: an
// unreleased unit awaits release only while that sv lives), `pid` ("PID STARTTIME BOOT_ID", written by the relay itself
// before it runs the command) and `exit` (the command's status, written by the relay when it ends).
// Its log is `<dir>/log/UNIT.log`. Every script starts with `preamble`, which sets D.
import { commandArgv } from "../../config/command.ts";
import type { Service } from "../../config/schema.ts";
import { shq } from "./shell.ts";

/** A host's dir as a shell word: `~/x` is under the remote user's home. */
export function dirWord(dir: string): string {
  if (dir === "~") return '"$HOME"';
  return dir.startsWith("~/") ? `"$HOME"/${shq(dir.slice(2))}` : shq(dir);
}

/** Exit codes the scripts use for what is wrong on the host (each has its message on stderr). */
export const REMOTE_EXIT = { noProc: 90, notWritable: 91, portTaken: 93, aborted: 94, noRelay: 95 } as const;

export function preamble(dir: string): string {
  return `set -u\nD=${dirWord(dir)}\nBOOT=; read -r BOOT < /proc/sys/kernel/random/boot_id 2>/dev/null || true\n`;
}

/** Read /proc/PID/stat into S (the fields after the command name: $1 is the state, $20 the start time). */
const STAT_FN = `sv_stat() { S=; read -r S < /proc/$1/stat 2>/dev/null || return 1; S=\${S##*) }; }\n`;
/** Is any live (not zombie) process in group $1? */
const GROUP_FN = `sv_group() { for f in /proc/[0-9]*/stat; do read -r s < "$f" 2>/dev/null || continue; s=\${s##*) }; set -- $s; [ "$3" = "$sv_g" ] && [ "$1" != Z ] && return 0; done; return 1; }\n`;
/** Is the unit's relay ($R/pid) still the same process? Sets P. */
const ALIVE_FN = `${STAT_FN}sv_alive() { P=; [ -r "$R/pid" ] || return 1; read -r P st b < "$R/pid" || return 1; [ "$b" = "$BOOT" ] || return 1; sv_stat "$P" || return 1; set -- $S; [ "$1" != Z ] && [ "\${20}" = "$st" ]; }\n`;

/** The relay: records its own identity, runs the command in the service's cwd and env, records how it ended. */
export function relayScript(o: { svc: Service; dir: string; unit: string; token: string; env: Record<string, string>; preStart?: boolean }): string {
  const { svc, env } = o;
  const lines = [
    `D=${dirWord(o.dir)}`,
    `R="$D/run/"${shq(`${o.unit}.${o.token}`)}`,
    `s=; read -r s < /proc/$$/stat; s=\${s##*) }; set -- $s`,
    `printf '%s %s %s\\n' $$ "\${20}" "$(cat /proc/sys/kernel/random/boot_id)" > "$R/pid.tmp" && mv "$R/pid.tmp" "$R/pid"`,
    // A handler (not an ignore, which the command would inherit): the relay outlives the group's stop signal to record the end.
    `trap 'sv_signalled=1' HUP INT QUIT TERM USR1 USR2`,
  ];
  if (svc.cwd) lines.push(`cd ${cwdWord(svc.cwd)} || { echo "sv: cannot enter ${svc.cwd.replace(/["$`\\]/g, "")}" >&2; echo 126 > "$R/exit"; exit 126; }`);
  else lines.push(`cd "$D" 2>/dev/null || cd /`);
  for (const [k, v] of Object.entries(env)) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) lines.push(`export ${k}=${shq(v)}`);
  if (svc.limits.nofile) lines.push(`ulimit -n ${svc.limits.nofile} || exit 126`);
  if (svc.limits.nproc) lines.push(`ulimit -u ${svc.limits.nproc} 2>/dev/null || ulimit -p ${svc.limits.nproc} 2>/dev/null || true`);
  if (svc.limits.memoryBytes) lines.push(`ulimit -v ${Math.ceil(svc.limits.memoryBytes / 1024)} || exit 126`);
  // A package's own scripts/pre-start.sh runs first, in the release: its failure is the start's.
  // (Looked for at run time: after a rollback, the release that runs is not the package's newest.)
  if (o.preStart) lines.push(`[ ! -f ./scripts/pre-start.sh ] || /bin/sh ./scripts/pre-start.sh || { sv_code=$?; echo "sv: scripts/pre-start.sh failed (exit $sv_code)" >&2; printf '%s\\n' "$sv_code" > "$R/exit"; exit "$sv_code"; }`);
  lines.push(commandLine(svc.command), `sv_code=$?`, `printf '%s\\n' "$sv_code" > "$R/exit.tmp" && mv "$R/exit.tmp" "$R/exit"`);
  return `${lines.join("\n")}\n`;
}

/** A string is a shell command (sh -c); a list is an argv. */
function commandLine(command: string | string[]): string {
  return typeof command === "string" ? `/bin/sh -c ${shq(command)}` : commandArgv(command).map(shq).join(" ");
}

/** A cwd on the host: absolute, `~/…`, or relative to the host's dir. */
function cwdWord(cwd: string): string {
  if (cwd.startsWith("/") || cwd.startsWith("~")) return dirWord(cwd);
  return `"$D"/${shq(cwd)}`;
}

/**
 * Prepare a unit without running anything: check the host (a /proc, a writable dir, the port free), clear the
 * unit's earlier ended runs, write its relay. Prints "ok".
 */
export function prepareScript(o: { dir: string; unit: string; token: string; relay: string; port?: number; creator: string }): string {
  const run = `"$D/run/"${shq(`${o.unit}.${o.token}`)}`;
  const tag = `SV_RELAY_${o.token}`;
  return `${preamble(o.dir)}${ALIVE_FN}[ -r /proc/self/stat ] || { echo "this host has no /proc (sv needs it to know its processes)" >&2; exit ${REMOTE_EXIT.noProc}; }
mkdir -p "$D/run" "$D/log" 2>/dev/null && [ -w "$D/run" ] && [ -w "$D/log" ] || { echo "cannot write to $D (its dir: setting)" >&2; exit ${REMOTE_EXIT.notWritable}; }
${o.port === undefined ? "" : portCheck(o.port)}for R in "$D/run/"${shq(o.unit)}.t*; do [ -d "$R" ] || continue; sv_alive || rm -rf "$R"; done
R=${run}
mkdir "$R" || exit ${REMOTE_EXIT.notWritable}
printf '%s\\n' ${shq(o.creator)} > "$R/creator" || exit ${REMOTE_EXIT.notWritable}
cat > "$R/relay" <<'${tag}'
${o.relay}${tag}
echo ok
`;
}

/** Fail when something listens on `port` (tcp, v4 or v6), from /proc/net: no tool needed. */
function portCheck(port: number): string {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  return `for f in /proc/net/tcp /proc/net/tcp6; do [ -r "$f" ] || continue; while read -r sl local rem st rest; do case "$local:$st" in *:${hex}:0A) echo "port ${port} is already in use" >&2; exit ${REMOTE_EXIT.portTaken};; esac; done < "$f"; done\n`;
}

/** Release a prepared unit: the fate "released" (unless an abort came first), then the relay, detached. Prints its pid line. */
export function releaseScript(o: { dir: string; unit: string; token: string }): string {
  return `${preamble(o.dir)}R="$D/run/"${shq(`${o.unit}.${o.token}`)}
if ! ln -s released "$R/fate" 2>/dev/null; then [ "$(readlink "$R/fate")" = released ] || { echo "its start was abandoned" >&2; exit ${REMOTE_EXIT.aborted}; }; fi
if [ ! -s "$R/pid" ]; then
  cd / && setsid /bin/sh "$R/relay" </dev/null >>"$D/log/"${shq(`${o.unit}.log`)} 2>&1 &
  i=0; while [ ! -s "$R/pid" ]; do i=$((i+1)); [ $i -gt 1000 ] && { echo "the relay did not start" >&2; exit ${REMOTE_EXIT.noRelay}; }; sleep 0.01 2>/dev/null || sleep 1; done
fi
cat "$R/pid"
`;
}

/** Abort a prepared unit: the fate "aborted" if it is not released yet. Prints the fate. */
export function abortScript(o: { dir: string; unit: string; token: string }): string {
  return `${preamble(o.dir)}R="$D/run/"${shq(`${o.unit}.${o.token}`)}
[ -d "$R" ] || { echo aborted; exit 0; }
ln -s aborted "$R/fate" 2>/dev/null; readlink "$R/fate"
`;
}

/**
 * Look at units (unit, token pairs) in one go. One line each: `N alive MAINPID` (the relay's child, or the relay),
 * `N exit STATUS`, `N gone` (ended without a record: killed, or the host rebooted), `N launching` (released, the
 * relay not yet recorded), `N pending CREATOR` (not released yet, nor aborted: it awaits release while its creator
 * lives) or `N unborn` (aborted: it never runs).
 */
export function inspectScript(dir: string, units: { unit: string; token: string }[]): string {
  const looks = units.map((u, i) => `sv_look ${i} "$D/run/"${shq(`${u.unit}.${u.token}`)}`).join("\n");
  return `${preamble(dir)}${ALIVE_FN}sv_look() {
  R=$2
  if sv_alive; then c=; read -r c < /proc/$P/task/$P/children 2>/dev/null; c=\${c%% *}; echo "$1 alive \${c:-$P}"; return; fi
  if [ -r "$R/exit" ]; then read -r e < "$R/exit"; echo "$1 exit $e"; return; fi
  if [ -s "$R/pid" ]; then echo "$1 gone"; return; fi
  case "$(readlink "$R/fate" 2>/dev/null)" in released) echo "$1 launching";; aborted) echo "$1 unborn";; *) c=; read -r c < "$R/creator" 2>/dev/null; echo "$1 pending \${c:-none}";; esac
}
${looks}
`;
}

/**
 * Stop a unit's group: `signal`, up to `timeoutMs`, then SIGKILL, until no live member is left. Prints
 * `notrunning`, or `stopped FORCED` (0/1). An unreleased unit is aborted instead (`stopped 0`: it was alive, awaiting release).
 */
export function stopScript(o: { dir: string; unit: string; token: string; signal: string; timeoutMs: number }): string {
  const sig = o.signal.replace(/^SIG/, "");
  const polls = Math.max(1, Math.ceil(o.timeoutMs / 50));
  return `${preamble(o.dir)}${ALIVE_FN}${GROUP_FN}R="$D/run/"${shq(`${o.unit}.${o.token}`)}
[ -d "$R" ] && ln -s aborted "$R/fate" 2>/dev/null && { echo "stopped 0"; exit 0; }
if ! sv_alive; then
  [ -r "$R/pid" ] && read -r sv_g st b < "$R/pid" && [ "$b" = "$BOOT" ] && sv_group && { kill -KILL -"$sv_g" 2>/dev/null; }
  echo notrunning; exit 0
fi
sv_g=$P
kill -${sig} -"$sv_g" 2>/dev/null
i=0; forced=0
while sv_group; do
  i=$((i+1))
  if [ $i -gt ${polls} ] && [ $forced = 0 ]; then forced=1; kill -KILL -"$sv_g" 2>/dev/null; fi
  [ $i -gt $((${polls} + 200)) ] && { echo "group $sv_g survived SIGKILL" >&2; exit 1; }
  sleep 0.05 2>/dev/null || sleep 1
done
echo "stopped $forced"
`;
}

/** After a unit ended: SIGKILL what is left of its group, and forget its exit record. */
export function reapScript(o: { dir: string; unit: string; token: string }): string {
  return `${preamble(o.dir)}${GROUP_FN}R="$D/run/"${shq(`${o.unit}.${o.token}`)}
if [ -r "$R/pid" ] && read -r sv_g st b < "$R/pid" && [ "$b" = "$BOOT" ]; then
  kill -KILL -"$sv_g" 2>/dev/null; i=0; while sv_group && [ $i -lt 100 ]; do i=$((i+1)); sleep 0.05 2>/dev/null || sleep 1; done
fi
rm -f "$R/exit"
`;
}

/**
 * Run a command where the service runs (hooks, probes): in its cwd and env, in its own group, killed after
 * `timeoutMs`. Its output goes to the unit's log ("log") or stdout is dropped and stderr kept ("capture"). The
 * last line on stdout is `sv-exec CODE TIMEDOUT`.
 */
export function execScript(o: { dir: string; unit: string; cwd: string; argv: string[]; env: Record<string, string | undefined>; timeoutMs: number; output: "log" | "capture" }): string {
  const exports = Object.entries(o.env)
    .filter(([k, v]) => v !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
    .map(([k, v]) => `export ${k}=${shq(v!)}`)
    .join("\n");
  const cd = o.cwd ? `cd ${cwdWord(o.cwd)} 2>/dev/null || cd "$D" 2>/dev/null || cd /` : `cd "$D" 2>/dev/null || cd /`;
  const out = o.output === "log" ? `>>"$D/log/"${shq(`${o.unit}.log`)} 2>&1` : ">/dev/null";
  const t = (o.timeoutMs / 1000).toFixed(3);
  return `${preamble(o.dir)}mkdir -p "$D/log" "$D/run" 2>/dev/null
${cd}
${exports}
T="$D/run/exec.$$.timeout"; rm -f "$T"
setsid ${o.argv.map(shq).join(" ")} </dev/null ${out} &
p=$!
( sleep ${t}; touch "$T"; kill -KILL -$p 2>/dev/null || kill -KILL $p 2>/dev/null ) </dev/null >/dev/null 2>&1 &
w=$!
wait $p; c=$?
kill $w 2>/dev/null
if [ -e "$T" ]; then rm -f "$T"; echo "sv-exec $c 1"; else echo "sv-exec $c 0"; fi
`;
}

/** The last `lines` lines of a unit's log, across its newest rotated one. */
export function tailScript(dir: string, unit: string, lines: number): string {
  const log = `"$D/log/"${shq(`${unit}.log`)}`;
  return `${preamble(dir)}{ cat ${log}.1 2>/dev/null; cat ${log} 2>/dev/null; } | tail -n ${Math.max(0, lines)}\n`;
}

export function logExistsScript(dir: string, unit: string): string {
  return `${preamble(dir)}[ -e "$D/log/"${shq(`${unit}.log`)} ] && echo yes || echo no\n`;
}

/** Follow a unit's log: its last `lines` lines, then new ones as written, across rotations. */
export function followScript(dir: string, unit: string, lines: number): string {
  return `${preamble(dir)}mkdir -p "$D/log"; touch "$D/log/"${shq(`${unit}.log`)}; exec tail -n ${Math.max(0, lines)} -F "$D/log/"${shq(`${unit}.log`)} 2>/dev/null\n`;
}

/** Rotate a unit's log once it is over `maxBytes` (copy-truncate: the relay keeps its fd), keeping `keep`. Prints the size rotated, or 0. */
export function rotateScript(dir: string, unit: string, maxBytes: number, keep: number): string {
  const log = `"$D/log/"${shq(`${unit}.log`)}`;
  return `${preamble(dir)}L=${log}
[ -f "$L" ] || { echo 0; exit 0; }
s=$(wc -c < "$L")
[ "$s" -gt ${maxBytes} ] || { echo 0; exit 0; }
i=${keep}; while [ $i -gt 1 ]; do [ -e "$L.$((i-1))" ] && mv -f "$L.$((i-1))" "$L.$i"; i=$((i-1)); done
${keep > 0 ? `cp "$L" "$L.1" && ` : ""}: > "$L"
echo "$s"
`;
}
