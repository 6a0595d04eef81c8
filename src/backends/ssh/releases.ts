// The shell scripts that manage a package's releases on a host, as strings: pure, run by `sh -c` over ssh.
// They need only a POSIX sh (dash, busybox ash) and coreutils or busybox: no bash, no awk, no perl.
//
// Layout under the install path I:
//   I/releases/<release>/   an extracted tarball; .sv-sha256 inside records the tarball's sha256
//   I/releases/.<release>.partial   an extraction in progress (renamed to its name once complete)
//   I/current               symlink -> releases/<release>, replaced by a rename(2), never missing
//   I/shared/env            KEY='value' lines (`. shared/env` is safe), written to a temp file and renamed
//   I/history               append-only: `deploy R`, `switch R`, `rollback R` (rolled back from), `restore R`
//   I/.lock/owner           a mkdir lock: `pid time host op` of its holder
//
// Every script prints `sv-<op>: ok ...` or `sv-<op>: error <kind> <message>` on stdout (the message again on
// stderr, last), and exits 0, 1 on failure, or 3 when the lock is held.
import { SvError } from "../../errors.ts";
import { shq } from "./shell.ts";

/** A lock older than this is broken even when its holder still seems alive (its pid may have been reused). */
export const LOCK_STALE_S = 30 * 60;

const RELEASE = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Locking {
  /** Seconds after which another deploy's lock counts as stale; default LOCK_STALE_S. */
  staleLockSeconds?: number;
}

/**
 * Unpack the tarball arriving on stdin as releases/<release> (unless it is there with this sha256), write
 * shared/env, run preInstall in it. `current` is left alone: switchScript makes it live.
 */
export function deployScript(o: { install: string; release: string; sha256: string; env: Record<string, string>; preInstall?: string } & Locking): string {
  const lines = Object.entries(o.env).map(([k, value]) => {
    if (!ENV_NAME.test(k)) throw new SvError(`cannot write the variable "${k.slice(0, 80)}" to shared/env: not a shell variable name`, { hint: "a package's env names match [A-Za-z_][A-Za-z0-9_]*" });
    return shq(`${k}=${shq(value)}`);
  });
  if (!/^[0-9a-f]{64}$/.test(o.sha256)) throw new SvError(`"${o.sha256.slice(0, 80)}" is not a sha256`, { hint: "a package's sha256 is 64 lower-case hex digits" });
  return script("deploy", o.install, o, `R=${shq(checkRelease(o.release))}
SHA=${shq(o.sha256)}
PRE=${shq(o.preInstall ?? "")}
mkdir -p "$I" 2>/dev/null || fail io "cannot create $I"
take_lock
mkdir -p "$I/releases" "$I/shared"
D="$I/releases/$R"
if [ -f "$D/.sv-sha256" ] && [ "$(cat "$D/.sv-sha256")" = "$SHA" ]; then
  cat >/dev/null
  what=present
else
  if [ -e "$D" ] || [ -L "$D" ]; then
    # Not what it claims to be (no or another sha256): set aside and replaced, unless it is serving.
    [ "$(current_name)" != "$R" ] || fail conflict "releases/$R serves but was not unpacked from this tarball"
    sv_old="$I/releases/.$R.old.$$"
    mv "$D" "$sv_old"
    rm -rf "$sv_old"
    sv_old=
  fi
  sv_tmp="$I/.upload.$$"
  (umask 077 && cat >"$sv_tmp") || fail upload "cannot write the upload to $sv_tmp"
  got=$(sha256sum "$sv_tmp") || fail upload "cannot hash the upload"
  got=\${got%% *}
  [ "$got" = "$SHA" ] || fail sha-mismatch "the upload's sha256 is $got, not $SHA (damaged in transit?)"
  sv_part="$I/releases/.$R.partial"
  rm -rf "$sv_part"
  mkdir "$sv_part"
  z=
  if [ "$(od -An -tx1 -N2 "$sv_tmp" | tr -d ' \\n')" = 1f8b ]; then z=z; fi
  # -o: files are the deploying user's, whatever the tarball says (GNU tar, busybox and bsdtar agree on -o).
  tar -x\${z}of "$sv_tmp" -C "$sv_part" >&2 </dev/null || fail extract "tar could not unpack the package into $sv_part"
  printf '%s\\n' "$SHA" >"$sv_part/.sv-sha256"
  mv "$sv_part" "$D"
  sv_part=
  rm -f "$sv_tmp"
  sv_tmp=
  what=uploaded
fi
echo "deploy $R" >>"$H"
sv_envtmp="$I/shared/.env.$$"
(umask 077 && ${lines.length ? `printf '%s\\n' ${lines.join(" ")}` : ":"} >"$sv_envtmp")
mv -f "$sv_envtmp" "$I/shared/env"
sv_envtmp=
if [ -n "$PRE" ]; then
  if (cd "$D" && set -a && . "$I/shared/env" && set +a && exec sh -c "$PRE") >&2 </dev/null; then :; else
    fail pre-install "pre_install exited with code $? in releases/$R"
  fi
fi
say "ok $R $what"`);
}

/** Point `current` at releases/<release> by one rename; prints `sv-switch: ok <release> <previous or ->`. */
export function switchScript(o: { install: string; release: string } & Locking): string {
  return script("switch", o.install, o, `R=${shq(checkRelease(o.release))}
[ -d "$I/releases" ] || fail missing "no releases under $I"
take_lock
[ -f "$I/releases/$R/.sv-sha256" ] || fail missing "no release $R under $I/releases"
was=$(current_name)
point "$R"
echo "switch $R" >>"$H"
say "ok $R \${was:--}"`);
}

/** Point `current` at the release before it; prints `sv-rollback: ok <to> <from>`; fails (no-previous) when there is none. */
export function rollbackScript(o: { install: string } & Locking): string {
  return script("rollback", o.install, o, `[ -d "$I/releases" ] || fail missing "no releases under $I"
take_lock
cur=$(current_name)
[ -n "$cur" ] || fail no-current "$I/current points at no release"
to=$(previous "$cur")
[ -n "$to" ] || fail no-previous "no release before $cur to roll back to"
point "$to"
printf 'rollback %s\\nrestore %s\\n' "$cur" "$to" >>"$H"
say "ok $to $cur"`);
}

/**
 * Remove all but the `keep` newest releases (by history), never the current or the previous one; and what
 * interrupted deploys left. Takes the lock, so never touches a deploy in progress. Prints `sv-prune: removed R`
 * for each, then `sv-prune: ok <removed> <kept>`.
 */
export function pruneScript(o: { install: string; keep: number } & Locking): string {
  if (!Number.isInteger(o.keep) || o.keep < 0) throw new SvError(`keep_releases must be a whole number of at least 0 (got ${o.keep})`);
  return script("prune", o.install, o, `KEEP=${o.keep}
if [ ! -d "$I/releases" ]; then say "ok 0 0"; exit 0; fi
take_lock
for sv_left in "$I"/releases/.*.partial "$I"/releases/.*.old.* "$I"/.upload.* "$I"/.switch.* "$I"/shared/.env.*; do
  if [ -e "$sv_left" ] || [ -L "$sv_left" ]; then rm -rf "$sv_left"; fi
done
cur=$(current_name)
prev=
if [ -n "$cur" ]; then prev=$(previous "$cur"); fi
list=$(ordered | sort -rn)
n=0
removed=0
while read -r key x; do
  [ -n "$x" ] || continue
  n=$((n + 1))
  if [ "$n" -le "$KEEP" ] || [ "$x" = "$cur" ] || [ "$x" = "$prev" ]; then continue; fi
  # Renamed first: a removal cut short never leaves a half-deleted release under its own name.
  mv "$I/releases/$x" "$I/releases/.$x.old.$$"
  rm -rf "$I/releases/.$x.old.$$"
  removed=$((removed + 1))
  say "removed $x"
done <<SV_LIST
$list
SV_LIST
say "ok $removed $((n - removed))"`);
}

/**
 * The releases on the host, one line each: `sv-releases: current R|-`, `previous R|-`, then `release R SHA|-`
 * oldest first, then `sv-releases: ok`. Read-only, no lock; does not exit, so a caller may append commands.
 */
export function releasesScript(o: { install: string }): string {
  return script("releases", o.install, {}, `cur=
prev=
if [ -d "$I/releases" ]; then
  cur=$(current_name)
  if [ -n "$cur" ]; then prev=$(previous "$cur"); fi
fi
say "current \${cur:--}"
say "previous \${prev:--}"
if [ -d "$I/releases" ]; then
  ordered | sort -n | while read -r key x; do
    s=$(cat "$I/releases/$x/.sv-sha256" 2>/dev/null) || s=
    case $s in *[!0-9a-f]* | "") s=- ;; esac
    say "release $x $s"
  done
fi
say ok`, false);
}

/** What releasesScript printed. */
export function parseReleases(out: string): { current: string | null; previous: string | null; releases: { name: string; sha256: string }[] } {
  const result: ReturnType<typeof parseReleases> = { current: null, previous: null, releases: [] };
  for (const line of out.split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== "sv-releases:") continue;
    const name = (w: string | undefined) => (w === undefined || w === "-" ? null : w);
    if (words[1] === "current") result.current = name(words[2]);
    else if (words[1] === "previous") result.previous = name(words[2]);
    else if (words[1] === "release" && words[2]) result.releases.push({ name: words[2], sha256: words[3] === "-" || words[3] === undefined ? "" : words[3] });
  }
  return result;
}

function checkRelease(release: string): string {
  if (!RELEASE.test(release) || release === "." || release === "..") {
    throw new SvError(`"${release.slice(0, 80)}" is not a release name`, { hint: "a release is named <version>-<sha8>, from [A-Za-z0-9._+-], not starting with a dot" });
  }
  return release;
}

function checkInstall(install: string): string {
  const path = install.replace(/\/+$/, "");
  if (!path.startsWith("/") || /[\0-\x1f]/.test(path)) {
    throw new SvError(`install_path "${install.slice(0, 80)}" must be an absolute path on the host`, { hint: "e.g. install_path: /opt/app (the default is /opt/<service>)" });
  }
  return path;
}

/**
 * One whole script: strict mode, the install path, the shared functions, `body`. With `guarded`, an EXIT trap
 * removes what the run left half-made (upload, partial, staging dir) and releases the lock if it took it; a
 * signal (a dropped ssh session: HUP, PIPE) exits through it too.
 */
function script(op: string, install: string, o: Locking, body: string, guarded = true): string {
  const stale = o.staleLockSeconds ?? LOCK_STALE_S;
  if (!Number.isInteger(stale) || stale < 0) throw new SvError(`staleLockSeconds must be a whole number (got ${stale})`);
  return `set -eu
I=${shq(checkInstall(install))}
sv_op=${op}
STALE=${stale}
${FUNCTIONS}
${guarded ? GUARD : ""}
${body}
`;
}

const FUNCTIONS = `L="$I/.lock"
H="$I/history"
sv_locked= sv_failed= sv_tmp= sv_part= sv_old= sv_stage= sv_envtmp=
say() { printf 'sv-%s: %s\\n' "$sv_op" "$*"; }
# fail KIND MESSAGE: the machine line on stdout, the message on stderr (last), exit 1 (3 when locked).
fail() {
  sv_failed=1
  sv_kind=$1
  shift
  say "error $sv_kind $*"
  printf '%s\\n' "$*" >&2
  if [ "$sv_kind" = locked ]; then exit 3; fi
  exit 1
}
valid() {
  case $1 in "" | .* | *[!A-Za-z0-9._+-]*) return 1 ;; esac
  return 0
}
# The release current points at, or nothing.
current_name() {
  sv_t=$(readlink "$I/current" 2>/dev/null) || sv_t=
  case $sv_t in releases/*) sv_t=\${sv_t#releases/} ;; *) sv_t= ;; esac
  if valid "$sv_t"; then printf '%s' "$sv_t"; fi
}
# The line number of the last history line that is exactly $1, or 0.
lastn() {
  sv_n=$(grep -nxF -e "$1" "$H" 2>/dev/null | tail -n 1 | cut -d: -f1) || sv_n=
  printf '%s' "\${sv_n:-0}"
}
# A release's place in the order of deploys: its last deploy or switch (a rollback does not reorder).
order_of() {
  sv_d=$(lastn "deploy $1")
  sv_s=$(lastn "switch $1")
  if [ "$sv_s" -gt "$sv_d" ]; then printf '%s' "$sv_s"; else printf '%s' "$sv_d"; fi
}
# Every complete release as "order name" lines.
ordered() {
  for sv_r in "$I"/releases/*; do
    sv_x=\${sv_r##*/}
    if [ -d "$sv_r" ] && [ ! -L "$sv_r" ] && valid "$sv_x" && [ -f "$sv_r/.sv-sha256" ]; then
      printf '%s %s\\n' "$(order_of "$sv_x")" "$sv_x"
    fi
  done
}
# The release before $1 in deploy order that has served (switched to) and was not rolled back from since.
previous() {
  sv_cur=$(order_of "$1")
  if [ "$sv_cur" -eq 0 ]; then sv_cur=999999999; fi
  sv_best=
  sv_bestn=-1
  for sv_r in "$I"/releases/*; do
    sv_x=\${sv_r##*/}
    if [ "$sv_x" = "$1" ] || ! valid "$sv_x" || [ ! -f "$sv_r/.sv-sha256" ]; then continue; fi
    sv_s=$(lastn "switch $sv_x")
    sv_b=$(lastn "restore $sv_x")
    if [ "$sv_b" -gt "$sv_s" ]; then sv_s=$sv_b; fi
    if [ "$sv_s" -eq 0 ] || [ "$(lastn "rollback $sv_x")" -gt "$sv_s" ]; then continue; fi
    sv_n=$(order_of "$sv_x")
    if [ "$sv_n" -lt "$sv_cur" ] && [ "$sv_n" -gt "$sv_bestn" ]; then
      sv_best=$sv_x
      sv_bestn=$sv_n
    fi
  done
  printf '%s' "$sv_best"
}
# current -> releases/$1, by rename(2): the new link is made in a staging dir and moved INTO $I, so mv renames
# it over current without following current (mv onto a symlink to a dir would move into that dir; -T is GNU's).
point() {
  if [ -e "$I/current" ] && [ ! -L "$I/current" ]; then fail conflict "$I/current is not a symlink"; fi
  sv_stage="$I/.switch.$$"
  rm -rf "$sv_stage"
  mkdir "$sv_stage"
  ln -s "releases/$1" "$sv_stage/current"
  mv -f "$sv_stage/current" "$I"
  rmdir "$sv_stage"
  sv_stage=
}
# Is the lock's holder gone: its owner line unreadable a second after, its pid dead on this host, or older than STALE?
lock_stale() {
  sv_lpid= sv_ltime= sv_lhost=
  if [ -f "$L/owner" ]; then read -r sv_lpid sv_ltime sv_lhost sv_lop 2>/dev/null <"$L/owner" || :; fi
  if [ -z "$sv_ltime" ]; then
    sleep 1
    if [ -f "$L/owner" ]; then read -r sv_lpid sv_ltime sv_lhost sv_lop 2>/dev/null <"$L/owner" || :; fi
  fi
  case $sv_lpid$sv_ltime in "" | *[!0-9]*) return 0 ;; esac
  if [ $(($(date +%s) - sv_ltime)) -gt "$STALE" ]; then return 0; fi
  if [ "$sv_lhost" = "$(uname -n)" ] && [ ! -d "/proc/$sv_lpid" ]; then return 0; fi
  return 1
}
take_lock() {
  if mkdir "$L" 2>/dev/null; then :
  elif lock_stale; then
    sv_held="$sv_lpid $sv_ltime $sv_lhost"
    if mv "$L" "$L.stale.$$" 2>/dev/null; then
      # Another breaker may have made a fresh lock in between: then that one is put back, and we are locked out.
      sv_was= sv_wtime= sv_whost=
      if [ -f "$L.stale.$$/owner" ]; then read -r sv_was sv_wtime sv_whost sv_wop 2>/dev/null <"$L.stale.$$/owner" || :; fi
      if [ -n "$sv_was" ] && [ "$sv_was $sv_wtime $sv_whost" != "$sv_held" ] && [ ! -e "$L" ]; then mv "$L.stale.$$" "$L"; fi
      rm -rf "$L.stale.$$"
    fi
    mkdir "$L" 2>/dev/null || fail locked "$I is locked by another deploy"
    printf 'broke a stale lock of %s (pid %s, since %s, on %s)\\n' "$I" "$sv_lpid" "$sv_ltime" "$sv_lhost" >&2
  else
    fail locked "$I is locked by pid $sv_lpid on $sv_lhost ($sv_lop, since $sv_ltime)"
  fi
  sv_locked=1
  printf '%s %s %s %s\\n' "$$" "$(date +%s)" "$(uname -n)" "$sv_op" >"$L/owner"
}`;

const GUARD = `sv_cleanup() {
  sv_rc=$?
  if [ "$sv_rc" -ne 0 ] && [ -z "$sv_failed" ]; then say "error io stopped with exit code $sv_rc (see stderr)" || :; fi
  if [ -n "$sv_tmp" ]; then rm -f "$sv_tmp" || :; fi
  if [ -n "$sv_part" ]; then rm -rf "$sv_part" || :; fi
  if [ -n "$sv_old" ]; then rm -rf "$sv_old" || :; fi
  if [ -n "$sv_stage" ]; then rm -rf "$sv_stage" || :; fi
  if [ -n "$sv_envtmp" ]; then rm -f "$sv_envtmp" || :; fi
  if [ -n "$sv_locked" ]; then rm -rf "$L" || :; fi
}
trap sv_cleanup EXIT
# A signal (the ssh session gone) exits through the EXIT trap, which then prints nothing.
trap 'sv_failed=1; exit 129' HUP
trap 'sv_failed=1; exit 130' INT
trap 'sv_failed=1; exit 141' PIPE
trap 'sv_failed=1; exit 143' TERM`;
