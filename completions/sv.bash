# bash completion for sv. Load it with
#   source <(sv completion bash)
# or save it as ~/.local/share/bash-completion/completions/sv. Works with or without bash-completion.
# Service names come from `sv completion __names`: it reads only the definitions (never the network)
# and honours a --root typed on the line.

_sv_commands="up start down stop restart status ps logs list validate reconcile watch exec events metrics health completion hosts rollback init export import"

# The flags of a command.
_sv_flags() {
  local common="--root --json --quiet -q --log-format --wait-lock --no-wait-lock --help -h"
  case "$1" in
    up | start) echo "$common --recreate --no-recreate --remove-orphans" ;;
    down | stop) echo "$common --volumes" ;;
    restart | status | ps | validate | reconcile | metrics | health | hosts | rollback) echo "$common" ;;
    logs | events) echo "$common --follow -f --lines -n" ;;
    list) echo "$common --tree" ;;
    watch) echo "$common --interval --listen" ;;
    init) echo "$common --stop-timeout --interval" ;;
    export) echo "$common --out --force --image --wait-image --swarm" ;;
    import) echo "$common --out --force" ;;
    exec) echo "$common --requires" ;;
    completion) echo "--help -h" ;;
  esac
}

# Service names of the project: $1 is sv as typed, $2 a --root typed on the line (may be empty).
_sv_names() {
  if [[ -n $2 ]]; then
    SV_ROOT="$2" "$1" completion __names 2>/dev/null
  else
    "$1" completion __names 2>/dev/null
  fi
}

_sv() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD - 1]}"
  local sv="${COMP_WORDS[0]/#\~/$HOME}" cmd="" root="" dashdash=0 i word
  COMPREPLY=()

  # `--root=DIR` reaches us as `--root` `=` `DIR` (= is in COMP_WORDBREAKS): look through both spellings.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="${COMP_WORDS[i]}"
    case "$word" in
      --) dashdash=$i ;;
      --root)
        if [[ ${COMP_WORDS[i + 1]} == "=" ]]; then root="${COMP_WORDS[i + 2]}"; else root="${COMP_WORDS[i + 1]}"; fi ;;
      --root=*) root="${word#--root=}" ;;
    esac
  done
  root="${root/#\~/$HOME}"
  ((COMP_CWORD > 1)) && cmd="${COMP_WORDS[1]}"

  if ((COMP_CWORD == 1)); then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$_sv_commands" -- "$cur")
    fi
    return 0
  fi

  # After `sv exec … --`: the command to run, then its files.
  if ((dashdash > 0)) && [[ $cmd == exec ]]; then
    if ((COMP_CWORD == dashdash + 1)); then
      mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
    else
      compopt -o default 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
    return 0
  fi

  # The value of an option: `--opt VALUE`, `--opt=VALUE` (split as --opt = VALUE) or `--opt=` (cur is "=").
  local opt=""
  if [[ $cur == "=" ]]; then
    opt="$prev" cur=""
  elif [[ $prev == "=" ]]; then
    opt="${COMP_WORDS[COMP_CWORD - 2]}"
  elif [[ $prev == -* ]]; then
    opt="$prev"
  fi
  case "$opt" in
    --root)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      return 0 ;;
    --log-format)
      mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur")
      return 0 ;;
    --requires)
      # A comma-separated list: complete the last item, keep what comes before it.
      local done="" item="$cur" name
      [[ $cur == *,* ]] && done="${cur%,*}," item="${cur##*,}"
      for name in $(_sv_names "$sv" "$root"); do
        [[ ",$done" == *",$name,"* ]] || [[ $name != "$item"* ]] || COMPREPLY+=("$done$name")
      done
      return 0 ;;
    --out)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      return 0 ;;
    --lines | -n | --interval | --listen | --stop-timeout | --image | --wait-image)
      return 0 ;;
  esac

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_sv_flags "$cmd")" -- "$cur")
    return 0
  fi

  case "$cmd" in
    rollback)
      ((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W "$(_sv_names "$sv" "$root")" -- "$cur") ;;
    hosts)
      ((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W "trust" -- "$cur") ;;
    export)
      if ((COMP_CWORD == 2)); then
        mapfile -t COMPREPLY < <(compgen -W "systemd compose kubernetes" -- "$cur")
      else
        mapfile -t COMPREPLY < <(compgen -W "$(_sv_names "$sv" "$root")" -- "$cur")
      fi ;;
    import)
      if ((COMP_CWORD == 2)); then
        mapfile -t COMPREPLY < <(compgen -W "compose process-compose procfile supervisord" -- "$cur")
      else
        compopt -o default 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      fi ;;
    up | start | down | stop | restart | status | ps | logs | events | init)
      # Names not already on the line.
      local names name typed=" ${COMP_WORDS[*]:2:COMP_CWORD-2} "
      names="$(_sv_names "$sv" "$root")"
      for name in $names; do
        [[ $typed == *" $name "* ]] || [[ $name != "$cur"* ]] || COMPREPLY+=("$name")
      done ;;
    completion)
      ((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W "bash zsh fish" -- "$cur") ;;
  esac
  return 0
}

complete -F _sv sv
