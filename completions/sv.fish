# fish completion for sv. Save it with
#   sv completion fish > ~/.config/fish/completions/sv.fish
# Service names come from `sv completion __names`: it reads only the definitions (never the network)
# and honours a --root typed on the line.

# Service names of the project, for the sv and the --root typed on the line.
function __sv_names
    set -l tokens (commandline -opc)
    set -l root
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case --root
                set -q tokens[(math $i + 1)]; and set root $tokens[(math $i + 1)]
            case '--root=*'
                set root (string replace -- --root= '' $tokens[$i])
        end
    end
    set root (string replace -r '^~' $HOME -- "$root")
    if test -n "$root"
        SV_ROOT=$root $tokens[1] completion __names 2>/dev/null
    else
        $tokens[1] completion __names 2>/dev/null
    end
end

# Names not already on the line.
function __sv_services
    set -l typed (commandline -opc)[3..-1]
    for name in (__sv_names)
        contains -- $name $typed; or echo $name
    end
end

# The comma-separated --requires list: complete its last item.
function __sv_requires
    set -l current (commandline -ct | string replace -r '^--requires=' '')
    set -l done (string replace -r '[^,]*$' '' -- $current)
    set -l listed (string split , -- $done)
    for name in (__sv_names)
        contains -- $name $listed; or echo $done$name
    end
end

# After `sv exec … --`: the command to run, then its arguments.
function __sv_exec_command
    set -l tokens (commandline -opc)
    test "$tokens[2]" = exec; and contains -- -- $tokens
end

function __sv_exec_first
    __sv_exec_command; and test (commandline -opc)[-1] = --
end

set -l __sv_commands up start down stop restart status ps logs list validate reconcile watch exec events metrics health completion hosts rollback init export import
set -l __sv_with_names up start down stop restart status ps logs events rollback init
set -l __sv_with_common up start down stop restart status ps logs list validate reconcile watch exec events metrics health hosts rollback init export import

complete -c sv -f
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -l help -s h -d 'Show help'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -l version -s v -d 'Show the version'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a up -d 'Start services and their dependencies'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a start -d 'Start services (alias of up)'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a down -d 'Stop services and their dependents'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a stop -d 'Stop services (alias of down)'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a restart -d 'Stop then start services'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a status -d 'Show the state of services'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a ps -d 'Show the state of services (alias of status)'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a logs -d 'Print or follow service logs'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a list -d 'List service definitions'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a validate -d 'Check all configuration'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a reconcile -d 'One watchdog pass (for cron)'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a watch -d 'Reconcile continuously'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a exec -d 'Bring services up, run a command'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a events -d 'Print or follow the transition log'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a metrics -d 'Print Prometheus metrics'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a health -d 'One line of overall health'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a completion -d 'Print a shell completion script'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a hosts -d 'The declared hosts, and whether they answer'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a rollback -d 'A package service back to its previous release'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a init -d 'A container entrypoint: up, supervise, stop in order'
complete -c sv -n "__fish_seen_subcommand_from hosts" -x -a trust -d 'Record a host key'

complete -c sv -n "__fish_seen_subcommand_from $__sv_with_common" -l root -x -a '(__fish_complete_directories)' -d 'Project root'
complete -c sv -n "__fish_seen_subcommand_from $__sv_with_common" -l json -d 'Print one JSON document on stdout'
complete -c sv -n "__fish_seen_subcommand_from $__sv_with_common" -s q -l quiet -d 'Print nothing but errors'
complete -c sv -n "__fish_seen_subcommand_from $__sv_with_common" -l log-format -x -a 'text json' -d 'Format of logs on stderr'
complete -c sv -n "__fish_seen_subcommand_from $__sv_with_common" -l wait-lock -d 'Wait for the store lock'
complete -c sv -n "__fish_seen_subcommand_from $__sv_with_common" -l no-wait-lock -d 'Exit 3 at once if the store is locked'
complete -c sv -n "__fish_seen_subcommand_from $__sv_commands" -s h -l help -d 'Show help'

complete -c sv -n "__fish_seen_subcommand_from $__sv_with_names; and not __sv_exec_command" -a '(__sv_services)' -d service
complete -c sv -n "__fish_seen_subcommand_from down stop" -l volumes -d 'With the whole project: also remove named volumes'
complete -c sv -n "__fish_seen_subcommand_from logs events" -s f -l follow -d 'Keep printing new lines as they are written'
complete -c sv -n "__fish_seen_subcommand_from logs events" -s n -l lines -x -d 'Lines to print from the end'
complete -c sv -n "__fish_seen_subcommand_from up start" -l recreate -d 'Restart running units whose definition changed'
complete -c sv -n "__fish_seen_subcommand_from up start" -l no-recreate -d 'Keep running units whose definition changed'
complete -c sv -n "__fish_seen_subcommand_from up start" -l remove-orphans -d 'Stop units whose service is gone from the config'
complete -c sv -n "__fish_seen_subcommand_from list" -l tree -d 'Show the dependency tree'
complete -c sv -n "__fish_seen_subcommand_from watch" -l interval -x -d 'Full pass every (duration)'
complete -c sv -n "__fish_seen_subcommand_from watch" -l listen -x -d 'Serve the HTTP API and /metrics on ADDR'
complete -c sv -n "__fish_seen_subcommand_from init" -l stop-timeout -x -d 'From SIGTERM to the SIGKILL of what is left (duration)'
complete -c sv -n "__fish_seen_subcommand_from init" -l interval -x -d 'Full pass every (duration)'
complete -c sv -n "__fish_seen_subcommand_from exec" -l requires -x -a '(__sv_requires)' -d 'Services to bring up first'
complete -c sv -n __sv_exec_first -x -a '(__fish_complete_command)'
complete -c sv -n '__sv_exec_command; and not __sv_exec_first' -F
complete -c sv -n "__fish_seen_subcommand_from completion" -x -a 'bash zsh fish'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a export -d 'The project as another engine\'s configuration'
complete -c sv -n "not __fish_seen_subcommand_from $__sv_commands" -a import -d 'services/*.yml from another tool\'s configuration'
complete -c sv -n "__fish_seen_subcommand_from export" -x -a 'systemd compose kubernetes (__sv_services)'
complete -c sv -n "__fish_seen_subcommand_from export" -l out -x -a '(__fish_complete_directories)' -d 'Write the files into DIR'
complete -c sv -n "__fish_seen_subcommand_from export" -l force -d 'Overwrite files in --out that differ'
complete -c sv -n "__fish_seen_subcommand_from export" -l image -x -d 'Base image of process services'
complete -c sv -n "__fish_seen_subcommand_from export" -l wait-image -x -d 'Image of the initContainers that wait'
complete -c sv -n "__fish_seen_subcommand_from export" -l swarm -d 'A stack file for docker stack deploy'
complete -c sv -n "__fish_seen_subcommand_from import; and not __fish_seen_subcommand_from compose process-compose procfile supervisord" -x -a 'compose process-compose procfile supervisord'
complete -c sv -n "__fish_seen_subcommand_from import; and __fish_seen_subcommand_from compose process-compose procfile supervisord" -F
complete -c sv -n "__fish_seen_subcommand_from import" -l out -x -a '(__fish_complete_directories)' -d 'The project to write into'
complete -c sv -n "__fish_seen_subcommand_from import" -l force -d 'Overwrite service files that exist'
