# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_rosterctl_global_optspecs
    string join \n addr= profile= ca= cert= client-key= tenant= o/output= h/help V/version
end

function __fish_rosterctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_rosterctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_rosterctl_using_subcommand
    set -l cmd (__fish_rosterctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c rosterctl -n "__fish_rosterctl_needs_command" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_needs_command" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_needs_command" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_needs_command" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_needs_command" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_needs_command" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_needs_command" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_needs_command" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "account" -d 'Add, list, change and remove trading accounts'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "accounts" -d 'Add, list, change and remove trading accounts'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "health" -d 'Health of every account (default: list), or of one'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "watch" -d 'Stream account and health events until interrupted (Ctrl-C)'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "venues" -d 'What each venue (connector) needs and has: credential fields, environments and their default hosts, books, rate budget, currency, health probe'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "funds" -d 'Consolidated funds across accounts, one row per account plus totals per currency'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "balances" -d 'Every asset or currency held, per account (free, locked, total), totalled per asset'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "positions" -d 'Open positions across accounts (--net: merged by instrument)'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "orders" -d 'Today\'s orders across accounts'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "trades" -d 'Today\'s trades across accounts'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "holdings" -d 'Holdings across accounts (--net: merged by instrument)'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "status" -d 'Daemon version, uptime, accounts by state, certificate expiry, database size'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "backup" -d 'Download a consistent snapshot of the daemon\'s database'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "key" -d 'Master key operations'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "audit" -d 'Recent audit records (newest first)'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "pki" -d 'Create a CA, server and client certificates (no daemon needed)'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "man" -d 'Print the rosterctl(1) man page (roff), or write every page into DIR, for packaging'
complete -c rosterctl -n "__fish_rosterctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "add" -d 'Add an account. Its credential is read from stdin or a file, never from the command line'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "list" -d 'List accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "ls" -d 'List accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "get" -d 'Show one account'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "update" -d 'Change an account: only the fields given are changed'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "enable" -d 'Enable an account, or every account with the given labels (health checks resume)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "disable" -d 'Disable an account, or every account with the given labels (never contacted until enabled)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "remove" -d 'Delete an account, or every account with the given labels, with their health and snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "rm" -d 'Delete an account, or every account with the given labels, with their health and snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "test" -d 'Test an existing account, or a venue, host and credential before adding them'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l name -d 'Unique name: 1-64 characters of [A-Za-z0-9._-]' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l connector -d 'The venue: openalgo, alpaca, binance, okx, coinbase (`rosterctl venues` lists what the daemon supports)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l env -d 'The venue\'s environment: live, paper, testnet or demo, as the venue has them. Default: the venue\'s default (live)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l host -d 'Base URL of the upstream, e.g. http://127.0.0.1:5000. Required for OpenAlgo (the user\'s own server); for other venues it defaults to the venue\'s URL for --env and overrides it (a simulator, a proxy)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l ws -d 'WebSocket URL of the upstream' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l label -d 'A label (repeatable)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l api-key-file -d 'OpenAlgo: read its API key from FILE (one trailing newline is removed)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l credentials-file -d 'Any venue: read its credential fields from FILE, one JSON object of strings (fields below)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l disabled -d 'Create it disabled (never contacted until enabled)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l no-test -d 'Do not test the connection after saving (by default a refused key, an unreachable host or a dead broker session is reported as a warning; the account is saved anyway)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l api-key-stdin -d 'OpenAlgo: read its API key from stdin (one trailing newline is removed; on a terminal, prompts without echo)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -l credentials-stdin -d 'Any venue: read its credential fields from stdin as one JSON object of strings, e.g. {"key_id": "...", "secret_key": "..."} for alpaca (fields below). On a terminal, prompts for each field the venue has, without echo'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -l state -d 'Only accounts in this health state' -r -f -a "unknown\t''
up\t''
degraded\t''
down\t''
disabled\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -l state -d 'Only accounts in this health state' -r -f -a "unknown\t''
up\t''
degraded\t''
down\t''
disabled\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from get" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from get" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from get" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from get" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from get" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from get" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l name -d 'New name' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l host -d 'New upstream URL' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l ws -d 'New WebSocket URL ("" clears it)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l label -d 'Labels: when any is given, they replace the account\'s whole label set' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l api-key-file -d 'OpenAlgo: read its API key from FILE (one trailing newline is removed)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l credentials-file -d 'Any venue: read every credential field from FILE, one JSON object of strings (fields below)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l clear-labels -d 'Remove every label'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l api-key-stdin -d 'OpenAlgo: read its API key from stdin (one trailing newline is removed; on a terminal, prompts without echo)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -l credentials-stdin -d 'Any venue: read every credential field from stdin as one JSON object of strings (fields below). On a terminal, prompts for each field the venue has, without echo'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -l label -d 'Every account with this label (repeatable; all must match), instead of ID|NAME' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -s y -l yes -d 'With --label: act without asking (needed without a terminal)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from enable" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -l label -d 'Every account with this label (repeatable; all must match), instead of ID|NAME' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -s y -l yes -d 'With --label: act without asking (needed without a terminal)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from disable" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -l label -d 'Every account with this label (repeatable; all must match), instead of ID|NAME' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -s y -l yes -d 'With --label: act without asking (needed without a terminal)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -l label -d 'Every account with this label (repeatable; all must match), instead of ID|NAME' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -s y -l yes -d 'With --label: act without asking (needed without a terminal)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l connector -d 'The venue to test (not saved): openalgo (default), alpaca, ...' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l env -d 'The venue\'s environment to test: live (default), paper, testnet, demo' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l host -d 'Upstream URL to test (not saved); needs a credential (--api-key-... or --credentials-...). Required for OpenAlgo; other venues default to their URL for --env' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l api-key-file -d 'OpenAlgo: read its API key from FILE (one trailing newline is removed)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l credentials-file -d 'Any venue: read every credential field from FILE, one JSON object of strings (fields below)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l api-key-stdin -d 'OpenAlgo: read its API key from stdin (one trailing newline is removed; on a terminal, prompts without echo)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -l credentials-stdin -d 'Any venue: read every credential field from stdin as one JSON object of strings (fields below). On a terminal, prompts for each field the venue has, without echo'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add an account. Its credential is read from stdin or a file, never from the command line'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "list" -d 'List accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one account'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change an account: only the fields given are changed'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Enable an account, or every account with the given labels (health checks resume)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Disable an account, or every account with the given labels (never contacted until enabled)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Delete an account, or every account with the given labels, with their health and snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "test" -d 'Test an existing account, or a venue, host and credential before adding them'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "add" -d 'Add an account. Its credential is read from stdin or a file, never from the command line'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "list" -d 'List accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "ls" -d 'List accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "get" -d 'Show one account'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "update" -d 'Change an account: only the fields given are changed'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "enable" -d 'Enable an account, or every account with the given labels (health checks resume)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "disable" -d 'Disable an account, or every account with the given labels (never contacted until enabled)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "remove" -d 'Delete an account, or every account with the given labels, with their health and snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "rm" -d 'Delete an account, or every account with the given labels, with their health and snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "test" -d 'Test an existing account, or a venue, host and credential before adding them'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and not __fish_seen_subcommand_from add list ls get update enable disable remove rm test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l name -d 'Unique name: 1-64 characters of [A-Za-z0-9._-]' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l connector -d 'The venue: openalgo, alpaca, binance, okx, coinbase (`rosterctl venues` lists what the daemon supports)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l env -d 'The venue\'s environment: live, paper, testnet or demo, as the venue has them. Default: the venue\'s default (live)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l host -d 'Base URL of the upstream, e.g. http://127.0.0.1:5000. Required for OpenAlgo (the user\'s own server); for other venues it defaults to the venue\'s URL for --env and overrides it (a simulator, a proxy)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l ws -d 'WebSocket URL of the upstream' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l label -d 'A label (repeatable)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l api-key-file -d 'OpenAlgo: read its API key from FILE (one trailing newline is removed)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l credentials-file -d 'Any venue: read its credential fields from FILE, one JSON object of strings (fields below)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l disabled -d 'Create it disabled (never contacted until enabled)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l no-test -d 'Do not test the connection after saving (by default a refused key, an unreachable host or a dead broker session is reported as a warning; the account is saved anyway)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l api-key-stdin -d 'OpenAlgo: read its API key from stdin (one trailing newline is removed; on a terminal, prompts without echo)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -l credentials-stdin -d 'Any venue: read its credential fields from stdin as one JSON object of strings, e.g. {"key_id": "...", "secret_key": "..."} for alpaca (fields below). On a terminal, prompts for each field the venue has, without echo'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -l state -d 'Only accounts in this health state' -r -f -a "unknown\t''
up\t''
degraded\t''
down\t''
disabled\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -l state -d 'Only accounts in this health state' -r -f -a "unknown\t''
up\t''
degraded\t''
down\t''
disabled\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from get" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from get" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from get" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from get" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from get" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from get" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l name -d 'New name' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l host -d 'New upstream URL' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l ws -d 'New WebSocket URL ("" clears it)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l label -d 'Labels: when any is given, they replace the account\'s whole label set' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l api-key-file -d 'OpenAlgo: read its API key from FILE (one trailing newline is removed)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l credentials-file -d 'Any venue: read every credential field from FILE, one JSON object of strings (fields below)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l clear-labels -d 'Remove every label'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l api-key-stdin -d 'OpenAlgo: read its API key from stdin (one trailing newline is removed; on a terminal, prompts without echo)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -l credentials-stdin -d 'Any venue: read every credential field from stdin as one JSON object of strings (fields below). On a terminal, prompts for each field the venue has, without echo'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -l label -d 'Every account with this label (repeatable; all must match), instead of ID|NAME' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -s y -l yes -d 'With --label: act without asking (needed without a terminal)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from enable" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -l label -d 'Every account with this label (repeatable; all must match), instead of ID|NAME' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -s y -l yes -d 'With --label: act without asking (needed without a terminal)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from disable" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l label -d 'Every account with this label (repeatable; all must match), instead of ID|NAME' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -s y -l yes -d 'With --label: act without asking (needed without a terminal)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -l label -d 'Every account with this label (repeatable; all must match), instead of ID|NAME' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -s y -l yes -d 'With --label: act without asking (needed without a terminal)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l connector -d 'The venue to test (not saved): openalgo (default), alpaca, ...' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l env -d 'The venue\'s environment to test: live (default), paper, testnet, demo' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l host -d 'Upstream URL to test (not saved); needs a credential (--api-key-... or --credentials-...). Required for OpenAlgo; other venues default to their URL for --env' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l api-key-file -d 'OpenAlgo: read its API key from FILE (one trailing newline is removed)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l credentials-file -d 'Any venue: read every credential field from FILE, one JSON object of strings (fields below)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l api-key-stdin -d 'OpenAlgo: read its API key from stdin (one trailing newline is removed; on a terminal, prompts without echo)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -l credentials-stdin -d 'Any venue: read every credential field from stdin as one JSON object of strings (fields below). On a terminal, prompts for each field the venue has, without echo'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add an account. Its credential is read from stdin or a file, never from the command line'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "list" -d 'List accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one account'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change an account: only the fields given are changed'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Enable an account, or every account with the given labels (health checks resume)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Disable an account, or every account with the given labels (never contacted until enabled)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Delete an account, or every account with the given labels, with their health and snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "test" -d 'Test an existing account, or a venue, host and credential before adding them'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -l state -d 'Only accounts in this state' -r -f -a "unknown\t''
up\t''
degraded\t''
down\t''
disabled\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -f -a "list" -d 'One row per account: name, state, reason, latency, last ok, time in state'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -f -a "get" -d 'The last known health of one account'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -f -a "check" -d 'Check one account now (outside its schedule) and print the result'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and not __fish_seen_subcommand_from list get check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -l state -d 'Only accounts in this state' -r -f -a "unknown\t''
up\t''
degraded\t''
down\t''
disabled\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from get" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from get" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from get" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from get" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from get" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from get" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from check" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from check" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from check" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from check" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from check" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from check" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from check" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from help" -f -a "list" -d 'One row per account: name, state, reason, latency, last ok, time in state'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from help" -f -a "get" -d 'The last known health of one account'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check one account now (outside its schedule) and print the result'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand health; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -l from -d 'Resume from this event sequence (0: current state first, then live)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand watch" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand venues" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand venues" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand venues" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand venues" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand venues" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand venues" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand venues" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand venues" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand venues" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l account -d 'Only this account (id or name; repeatable). Default: every enabled account' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l max-staleness -d 'Serve snapshots younger than this (e.g. 500ms, 30s, 5m). Default: the daemon\'s setting' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -l refresh -d 'Always fetch from the upstreams instead of serving recent snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand funds" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l account -d 'Only this account (id or name; repeatable). Default: every enabled account' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l max-staleness -d 'Serve snapshots younger than this (e.g. 500ms, 30s, 5m). Default: the daemon\'s setting' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -l refresh -d 'Always fetch from the upstreams instead of serving recent snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand balances" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l account -d 'Only this account (id or name; repeatable). Default: every enabled account' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l max-staleness -d 'Serve snapshots younger than this (e.g. 500ms, 30s, 5m). Default: the daemon\'s setting' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l refresh -d 'Always fetch from the upstreams instead of serving recent snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -l net -d 'Merge rows by instrument across accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand positions" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l account -d 'Only this account (id or name; repeatable). Default: every enabled account' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l max-staleness -d 'Serve snapshots younger than this (e.g. 500ms, 30s, 5m). Default: the daemon\'s setting' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l status -d 'Only orders with this status, as OpenAlgo normalises them' -r -f -a "open\t''
complete\t''
rejected\t''
cancelled\t''
trigger pending\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -l refresh -d 'Always fetch from the upstreams instead of serving recent snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand orders" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l account -d 'Only this account (id or name; repeatable). Default: every enabled account' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l max-staleness -d 'Serve snapshots younger than this (e.g. 500ms, 30s, 5m). Default: the daemon\'s setting' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -l refresh -d 'Always fetch from the upstreams instead of serving recent snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand trades" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l account -d 'Only this account (id or name; repeatable). Default: every enabled account' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l label -d 'Only accounts with this label (repeatable; all must match)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l max-staleness -d 'Serve snapshots younger than this (e.g. 500ms, 30s, 5m). Default: the daemon\'s setting' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l refresh -d 'Always fetch from the upstreams instead of serving recent snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -l net -d 'Merge rows by instrument across accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand holdings" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand status" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand status" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand status" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand status" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand status" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand status" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand status" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand status" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand status" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -l out -d 'Where to write the backup' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -l force -d 'Replace FILE if it exists (it is replaced only once the new backup is complete and verified)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand backup" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -f -a "rotate" -d 'Re-seal every account\'s credential under a new master key, in one transaction'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and not __fish_seen_subcommand_from rotate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from rotate" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from rotate" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from rotate" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from rotate" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from rotate" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from rotate" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from rotate" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from rotate" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Re-seal every account\'s credential under a new master key, in one transaction'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -l limit -d 'How many records to show' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand audit" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand completions" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand completions" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand completions" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand completions" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand completions" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand completions" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand completions" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -f -a "init" -d 'Create a CA, a server certificate and the admin client profile DIR/admin'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -f -a "issue" -d 'Issue a client certificate with a role into a profile directory'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and not __fish_seen_subcommand_from init issue help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -l dir -d 'Directory to create the PKI in' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -l san -d 'Extra server name or IP address (repeatable)' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -l force -d 'Replace an existing CA (every certificate it issued stops working)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l dir -d 'PKI directory holding ca.pem and ca.key' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l name -d 'Principal name (certificate CN): 1-64 characters of [A-Za-z0-9._@-]' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l role -d 'What the holder may do' -r -f -a "admin\t'Everything'
operator\t'Account writes, checks, all reads'
viewer\t'Reads only'"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l out -d 'Profile directory to write ca.pem, cert.pem and key.pem into' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l days -d 'Validity in days' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -l force -d 'Overwrite an existing certificate in PROFILE_DIR'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from issue" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "init" -d 'Create a CA, a server certificate and the admin client profile DIR/admin'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "issue" -d 'Issue a client certificate with a role into a profile directory'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -l dir -d 'Write rosterctl.1 and one page per subcommand (rosterctl-account-add.1, ...) here' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -l addr -d 'Daemon address' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -l profile -d 'Client profile directory holding ca.pem, cert.pem and key.pem (as written by `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -l ca -d 'CA certificate that signed the daemon\'s certificate (overrides the profile\'s ca.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -l cert -d 'Client certificate (overrides the profile\'s cert.pem)' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -l client-key -l key -d 'Private key of the client certificate (overrides the profile\'s key.pem). Not an account\'s credential: that is read only with --api-key-stdin/--api-key-file or --credentials-stdin/--credentials-file' -r -F
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -l tenant -d 'Tenant: scopes a global admin\'s requests to tenant T (sent as x-roster-tenant metadata; a tenant\'s own certificate may name only its tenant). With `pki issue`, the tenant the new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without it the holder is in tenant default, and an admin is global' -r
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -s o -l output -d 'Output format: aligned columns for people, or one proto3-JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -s h -l help -d 'Print help'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand man" -s V -l version -d 'Print version'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "account" -d 'Add, list, change and remove trading accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "health" -d 'Health of every account (default: list), or of one'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "watch" -d 'Stream account and health events until interrupted (Ctrl-C)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "venues" -d 'What each venue (connector) needs and has: credential fields, environments and their default hosts, books, rate budget, currency, health probe'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "funds" -d 'Consolidated funds across accounts, one row per account plus totals per currency'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "balances" -d 'Every asset or currency held, per account (free, locked, total), totalled per asset'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "positions" -d 'Open positions across accounts (--net: merged by instrument)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "orders" -d 'Today\'s orders across accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "trades" -d 'Today\'s trades across accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "holdings" -d 'Holdings across accounts (--net: merged by instrument)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "status" -d 'Daemon version, uptime, accounts by state, certificate expiry, database size'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "backup" -d 'Download a consistent snapshot of the daemon\'s database'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "key" -d 'Master key operations'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "audit" -d 'Recent audit records (newest first)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "completions" -d 'Print a shell completion script'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "pki" -d 'Create a CA, server and client certificates (no daemon needed)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "man" -d 'Print the rosterctl(1) man page (roff), or write every page into DIR, for packaging'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and not __fish_seen_subcommand_from account health watch venues funds balances positions orders trades holdings status backup key audit completions pki man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "add" -d 'Add an account. Its credential is read from stdin or a file, never from the command line'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "list" -d 'List accounts'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "get" -d 'Show one account'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "update" -d 'Change an account: only the fields given are changed'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "enable" -d 'Enable an account, or every account with the given labels (health checks resume)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "disable" -d 'Disable an account, or every account with the given labels (never contacted until enabled)'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "remove" -d 'Delete an account, or every account with the given labels, with their health and snapshots'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "test" -d 'Test an existing account, or a venue, host and credential before adding them'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from health" -f -a "list" -d 'One row per account: name, state, reason, latency, last ok, time in state'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from health" -f -a "get" -d 'The last known health of one account'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from health" -f -a "check" -d 'Check one account now (outside its schedule) and print the result'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "rotate" -d 'Re-seal every account\'s credential under a new master key, in one transaction'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from pki" -f -a "init" -d 'Create a CA, a server certificate and the admin client profile DIR/admin'
complete -c rosterctl -n "__fish_rosterctl_using_subcommand help; and __fish_seen_subcommand_from pki" -f -a "issue" -d 'Issue a client certificate with a role into a profile directory'
