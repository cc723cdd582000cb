//! The command line, as clap derive types. The names here are the public contract in
//! `design/INTERFACE.md`: scripts and the end-to-end tests depend on them, so rename nothing.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// The credential fields of each venue, for the help of every command that reads them (a macro so
/// it can be `concat!`ed into clap's `after_help` literals).
macro_rules! credential_fields_help {
    () => {
        "Credential fields (--credentials-stdin/--credentials-file: one JSON object of strings):
  openalgo  {\"api_key\"}            (the same as --api-key-stdin/--api-key-file)
  alpaca    {\"key_id\", \"secret_key\"}
  binance   {\"api_key\", \"secret_key\"}
  okx       {\"api_key\", \"secret_key\", \"passphrase\"}
  coinbase  {\"key_name\", \"private_key\"}
A missing or unknown field is refused, naming the fields the venue expects; `rosterctl venues`
lists what the daemon supports. Only a hint of each field is ever shown back."
    };
}

/// What `account enable|disable|remove --label` does, for their help (a macro so it can be
/// `concat!`ed into clap's `after_help` literals).
macro_rules! bulk_help {
    () => {
        "With --label: every account whose labels all match is listed (names in natural order), \
then acted on one request each, at most 8 at a time; an account already in the wanted state is \
left alone. On a terminal rosterctl asks first ([y/N]); without a terminal it refuses (exit 2, \
nothing changed) unless --yes is given. No matching account: says so and exits 0.

Exit status: 0 when every matching account was done (or none matched); 1 when any failed (each
failure is named; the others are still done) or the question was answered no; 2 for a usage
error, or no terminal to ask on and no --yes."
    };
}

const EXAMPLES: &str = "\
Examples:
  rosterd --dev                                  # in another terminal: a local daemon
  export ROSTER_PROFILE=.roster-dev/admin
  rosterctl account add --name acc1 --host http://127.0.0.1:5000 --api-key-stdin <key.txt
  rosterctl health
  rosterctl positions --net --label desk=a
  rosterctl account disable --label desk=a --yes   # every account labelled desk=a
  rosterctl watch

Exit status: 0 on success; 1 when the operation failed or was refused; 2 for a usage error;
3 when a book (funds, balances, positions, orders, trades, holdings) was printed but is partial:
a selected account's section failed or is stale (a book its venue does not have is
\"unsupported\", which is not partial).";

/// Command-line client for the Roster daemon (mutually-authenticated TLS gRPC).
#[derive(Debug, Parser)]
#[command(name = "rosterctl", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Output format: aligned columns for people, or one proto3-JSON document for scripts.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,

    /// Time zone of the times tables print: UTC or an IANA name (Asia/Kolkata); shown as RFC 3339
    /// with the zone's offset. Default: the system's (TZ, /etc/localtime). -o json stays UTC.
    #[arg(
        long = "tz",
        env = "ROSTER_TZ",
        global = true,
        value_name = "ZONE",
        value_parser = crate::output::zone::parse
    )]
    pub tz: Option<jiff::tz::TimeZone>,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the daemon is and which certificate to present.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Daemon address.
    #[arg(
        long,
        env = "ROSTER_ADDR",
        global = true,
        value_name = "URL",
        default_value = "https://127.0.0.1:50051"
    )]
    pub addr: String,

    /// Client profile directory holding ca.pem, cert.pem and key.pem (as written by
    /// `rosterd --dev` into STATE_DIR/admin or by `rosterctl pki issue --out`).
    #[arg(long, env = "ROSTER_PROFILE", global = true, value_name = "DIR")]
    pub profile: Option<PathBuf>,

    /// CA certificate that signed the daemon's certificate (overrides the profile's ca.pem).
    #[arg(long, env = "ROSTER_CA", global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Client certificate (overrides the profile's cert.pem).
    #[arg(long, env = "ROSTER_CERT", global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// Private key of the client certificate (overrides the profile's key.pem). Not an
    /// account's credential: that is read only with --api-key-stdin/--api-key-file or
    /// --credentials-stdin/--credentials-file.
    #[arg(
        long = "client-key",
        visible_alias = "key",
        env = "ROSTER_KEY",
        global = true,
        value_name = "FILE"
    )]
    pub key: Option<PathBuf>,

    /// Tenant: scopes a global admin's requests to tenant T (sent as x-roster-tenant metadata;
    /// a tenant's own certificate may name only its tenant). With `pki issue`, the tenant the
    /// new certificate belongs to (URI SAN urn:roster:tenant:T, T 1-64 of [a-z0-9._-]); without
    /// it the holder is in tenant default, and an admin is global.
    #[arg(long, env = "ROSTER_TENANT", global = true, value_name = "T")]
    pub tenant: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list, change and remove trading accounts.
    #[command(subcommand, visible_alias = "accounts")]
    Account(AccountCmd),

    /// Health of every account (default: list), or of one.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
Examples:
  rosterctl health                  # one row per account
  rosterctl health --state down
  rosterctl health check acc1       # check now and print the result
  rosterctl health history acc1     # its state changes and account events, newest first"
    )]
    Health(HealthArgs),

    /// Stream account and health events until interrupted (Ctrl-C).
    #[command(after_help = "\
Examples:
  rosterctl watch                   # current state of every account, then live events
  rosterctl watch --from 1234 -o json
  rosterctl watch --label desk=a --state down --state degraded")]
    Watch {
        /// Resume from this event sequence (0: current state first, then live).
        #[arg(long, value_name = "SEQ", default_value_t = 0)]
        from: u64,
        #[command(flatten)]
        filter: WatchFilterArgs,
    },

    /// What each venue (connector) needs and has: credential fields, environments and their
    /// default hosts, books, rate budget, currency, health probe.
    #[command(after_help = "\
Examples:
  rosterctl venues
  rosterctl venues -o json | jq -r '.venues[].connector'")]
    Venues,

    /// Consolidated funds across accounts, one row per account plus totals per currency.
    Funds(PortfolioArgs),
    /// Every asset or currency held, per account (free, locked, total), totalled per asset.
    Balances(PortfolioArgs),
    /// Open positions across accounts (--net: merged by instrument).
    Positions(NetPortfolioArgs),
    /// Today's orders across accounts.
    Orders(OrdersArgs),
    /// Today's trades across accounts.
    Trades(PortfolioArgs),
    /// Holdings across accounts (--net: merged by instrument).
    Holdings(NetPortfolioArgs),

    /// Daemon version, uptime, accounts by state, certificate expiry, database size.
    Status,

    /// Download a consistent snapshot of the daemon's database.
    #[command(
        after_help = "Example:\n  rosterctl backup --out roster-$(date +%F).redb\n\n\
The file is written as FILE.partial, checked against the SHA-256 the daemon sends, then renamed.\n\
Restore it offline with `rosterd restore --state-dir DIR --from FILE`."
    )]
    Backup {
        /// Where to write the backup.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists (it is replaced only once the new backup is complete and
        /// verified).
        #[arg(long)]
        force: bool,
    },

    /// Master key operations.
    #[command(subcommand)]
    Key(KeyCmd),

    /// Recent audit records (newest first).
    #[command(after_help = "\
Examples:
  rosterctl audit --principal alice --since 1h
  rosterctl audit --account acc1 --outcome refused
  rosterctl audit --action UpdateAccount --since 2026-12-01T00:00:00Z --until 2026-12-02T00:00:00Z

--action takes a record's action (account.update, auth, ...) or an RPC name (UpdateAccount),
which matches that RPC's records whether it succeeded or was refused. TIME is RFC 3339; DUR
(1h, 30m) means that long ago.")]
    Audit {
        /// How many records to show.
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        filter: AuditFilterArgs,
    },

    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  rosterctl completions bash > /etc/bash_completion.d/rosterctl\n\n\
The script calls rosterctl (from PATH) on each Tab, so an account argument (ID|NAME, --account)\n\
completes to the daemon's account names, asked with the same --profile/--addr or ROSTER_*\n\
environment as the command typed; with the daemon down (2 s at most) none are offered."
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Create a CA, server and client certificates (no daemon needed).
    #[command(subcommand)]
    Pki(PkiCmd),

    /// Print the rosterctl(1) man page (roff), or write every page into DIR, for packaging.
    #[command(hide = true)]
    Man {
        /// Write rosterctl.1 and one page per subcommand (rosterctl-account-add.1, ...) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Add an account. Its credential is read from stdin or a file, never from the command line.
    #[command(after_help = concat!("\
Examples:
  rosterctl account add --name acc1 --host http://127.0.0.1:5000 --api-key-stdin <key.txt
  rosterctl account add --name acc2 --host https://oa.example --label desk=a --api-key-file key.txt
  rosterctl account add --name alp1 --connector alpaca --env paper --credentials-file alpaca.json

",
        credential_fields_help!()
    ))]
    Add {
        /// Unique name: 1-64 characters of [A-Za-z0-9._-].
        #[arg(long)]
        name: String,
        /// The venue: openalgo, alpaca, binance, okx, coinbase (`rosterctl venues` lists what the
        /// daemon supports).
        #[arg(long, value_name = "KIND", default_value = "openalgo")]
        connector: String,
        /// The venue's environment: live, paper, testnet or demo, as the venue has them.
        /// Default: the venue's default (live).
        #[arg(long = "env", value_name = "ENV")]
        env: Option<String>,
        /// Base URL of the upstream, e.g. http://127.0.0.1:5000. Required for OpenAlgo (the
        /// user's own server); for other venues it defaults to the venue's URL for --env and
        /// overrides it (a simulator, a proxy).
        #[arg(long, value_name = "URL")]
        host: Option<String>,
        /// WebSocket URL of the upstream.
        #[arg(long, value_name = "URL")]
        ws: Option<String>,
        /// A label (repeatable).
        #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
        labels: Vec<(String, String)>,
        /// Create it disabled (never contacted until enabled).
        #[arg(long)]
        disabled: bool,
        /// Do not test the connection after saving (by default a refused key, an unreachable
        /// host or a dead broker session is reported as a warning; the account is saved anyway).
        #[arg(long)]
        no_test: bool,
        #[command(flatten)]
        key: CredentialArgs,
    },

    /// List accounts.
    #[command(
        visible_alias = "ls",
        after_help = "Example:\n  rosterctl account list --label desk=a --state down"
    )]
    List {
        /// Only accounts with this label (repeatable; all must match).
        #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
        labels: Vec<(String, String)>,
        /// Only accounts in this health state.
        #[arg(long, value_enum)]
        state: Option<StateArg>,
        /// Order of the rows (names in natural order: demo-2 before demo-10); state puts
        /// enabled accounts first.
        #[arg(long, value_enum, value_name = "KEY", default_value_t = AccountSort::Name)]
        sort: AccountSort,
        /// Reverse the order.
        #[arg(long)]
        desc: bool,
    },

    /// Show one account.
    Get {
        /// Account id or name.
        #[arg(value_name = "ID|NAME", add = account_completer())]
        account: String,
    },

    /// Change an account: only the fields given are changed.
    #[command(after_help = concat!("\
Examples:
  rosterctl account update acc1 --host http://10.0.0.5:5000
  rosterctl account update acc1 --label desk=b --label tier=1   # replaces all labels
  rosterctl account update acc1 --api-key-stdin <new-key.txt
  rosterctl account update alp1 --credentials-file alpaca.json   # every field of the venue

",
        credential_fields_help!()
    ))]
    Update {
        /// Account id or name.
        #[arg(value_name = "ID|NAME", add = account_completer())]
        account: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New upstream URL.
        #[arg(long, value_name = "URL")]
        host: Option<String>,
        /// New WebSocket URL ("" clears it).
        #[arg(long, value_name = "URL")]
        ws: Option<String>,
        /// Labels: when any is given, they replace the account's whole label set.
        #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
        labels: Vec<(String, String)>,
        /// Remove every label.
        #[arg(long, conflicts_with = "labels")]
        clear_labels: bool,
        #[command(flatten)]
        key: CredentialOptArgs,
    },

    /// Enable an account, or every account with the given labels (health checks resume).
    #[command(after_help = concat!("\
Examples:
  rosterctl account enable acc1
  rosterctl account enable --label desk=a            # asks before acting on a terminal
  rosterctl account enable --label desk=a --yes      # scripts

", bulk_help!()))]
    Enable {
        #[command(flatten)]
        target: AccountTarget,
    },

    /// Disable an account, or every account with the given labels (never contacted until
    /// enabled).
    #[command(after_help = concat!("\
Examples:
  rosterctl account disable acc1
  rosterctl account disable --label desk=a --label tier=2 --yes

", bulk_help!()))]
    Disable {
        #[command(flatten)]
        target: AccountTarget,
    },

    /// Delete an account, or every account with the given labels, with their health and
    /// snapshots.
    #[command(visible_alias = "rm", after_help = concat!("\
Examples:
  rosterctl account remove acc1
  rosterctl account remove --label desk=old --yes

", bulk_help!()))]
    Remove {
        #[command(flatten)]
        target: AccountTarget,
    },

    /// Test an existing account, or a venue, host and credential before adding them.
    #[command(after_help = concat!("\
Examples:
  rosterctl account test acc1
  rosterctl account test --host http://127.0.0.1:5000 --api-key-file key.txt
  rosterctl account test --connector alpaca --env paper --credentials-file alpaca.json

",
        credential_fields_help!()
    ))]
    Test {
        /// Account id or name.
        #[arg(
            value_name = "ID|NAME",
            add = account_completer(),
            required_unless_present_any = ["host", "connector", "env", "credential_opt"],
            conflicts_with_all = ["host", "connector", "env", "credential_opt"]
        )]
        account: Option<String>,
        /// The venue to test (not saved): openalgo (default), alpaca, ...
        #[arg(long, value_name = "KIND", requires = "credential_opt")]
        connector: Option<String>,
        /// The venue's environment to test: live (default), paper, testnet, demo.
        #[arg(long = "env", value_name = "ENV", requires = "credential_opt")]
        env: Option<String>,
        /// Upstream URL to test (not saved); needs a credential (--api-key-... or
        /// --credentials-...). Required for OpenAlgo; other venues default to their URL for --env.
        #[arg(long, value_name = "URL", requires = "credential_opt")]
        host: Option<String>,
        #[command(flatten)]
        key: CredentialOptArgs,
    },
}

/// The accounts `enable`, `disable` and `remove` act on: one by id or name, or every account
/// with the given labels (exactly one of the two).
#[derive(Debug, Clone, Args)]
pub struct AccountTarget {
    #[command(flatten)]
    pub which: Which,
    /// With --label: act without asking (needed without a terminal).
    #[arg(long, short = 'y', conflicts_with = "account")]
    pub yes: bool,
}

/// One account, or a label selector: exactly one of the two.
#[derive(Debug, Clone, Args)]
#[group(id = "target", required = true, multiple = false)]
pub struct Which {
    /// Account id or name.
    #[arg(value_name = "ID|NAME", add = account_completer())]
    pub account: Option<String>,
    /// Every account with this label (repeatable; all must match), instead of ID|NAME.
    #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
}

/// The credential of a new account: exactly one source, never argv (argv is visible in `ps`).
#[derive(Debug, Clone, Args)]
#[group(id = "credential", required = true, multiple = false)]
pub struct CredentialArgs {
    /// OpenAlgo: read its API key from stdin (one trailing newline is removed; on a terminal,
    /// prompts without echo).
    #[arg(long)]
    pub api_key_stdin: bool,
    /// OpenAlgo: read its API key from FILE (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Any venue: read its credential fields from stdin as one JSON object of strings, e.g.
    /// {"key_id": "...", "secret_key": "..."} for alpaca (fields below). On a terminal, prompts
    /// for each field the venue has, without echo.
    #[arg(long)]
    pub credentials_stdin: bool,
    /// Any venue: read its credential fields from FILE, one JSON object of strings (fields
    /// below).
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
}

/// An optional new credential: at most one source.
#[derive(Debug, Clone, Args)]
#[group(id = "credential_opt", required = false, multiple = false)]
pub struct CredentialOptArgs {
    /// OpenAlgo: read its API key from stdin (one trailing newline is removed; on a terminal,
    /// prompts without echo).
    #[arg(long)]
    pub api_key_stdin: bool,
    /// OpenAlgo: read its API key from FILE (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Any venue: read every credential field from stdin as one JSON object of strings (fields
    /// below). On a terminal, prompts for each field the venue has, without echo.
    #[arg(long)]
    pub credentials_stdin: bool,
    /// Any venue: read every credential field from FILE, one JSON object of strings (fields
    /// below).
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
}

/// Where to read a secret from, once clap has checked the flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Stdin,
    File(PathBuf),
}

/// Which credential flag was given: OpenAlgo's bare API key, or a venue's JSON fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    ApiKey(KeySource),
    Fields(KeySource),
}

impl CredentialArgs {
    pub fn source(&self) -> Option<CredentialSource> {
        credential_source(
            (self.api_key_stdin, self.api_key_file.as_ref()),
            (self.credentials_stdin, self.credentials_file.as_ref()),
        )
    }
}

impl CredentialOptArgs {
    pub fn source(&self) -> Option<CredentialSource> {
        credential_source(
            (self.api_key_stdin, self.api_key_file.as_ref()),
            (self.credentials_stdin, self.credentials_file.as_ref()),
        )
    }
}

fn credential_source(
    api_key: (bool, Option<&PathBuf>),
    fields: (bool, Option<&PathBuf>),
) -> Option<CredentialSource> {
    key_source(api_key.0, api_key.1)
        .map(CredentialSource::ApiKey)
        .or_else(|| key_source(fields.0, fields.1).map(CredentialSource::Fields))
}

fn key_source(stdin: bool, file: Option<&PathBuf>) -> Option<KeySource> {
    match (stdin, file) {
        (true, _) => Some(KeySource::Stdin),
        (false, Some(f)) => Some(KeySource::File(f.clone())),
        (false, None) => None,
    }
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(subcommand)]
    pub cmd: Option<HealthCmd>,
    #[command(flatten)]
    pub list: HealthListArgs,
}

#[derive(Debug, Clone, Default, Args)]
pub struct HealthListArgs {
    /// Only accounts with this label (repeatable; all must match).
    #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Only accounts in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// Order of the rows: name (natural order: demo-2 before demo-10), state (worst first:
    /// down, degraded, unknown, up, disabled), latency (fastest first), last-ok (longest
    /// without a success first).
    #[arg(long, value_enum, value_name = "KEY", default_value_t = HealthSort::Name)]
    pub sort: HealthSort,
    /// Reverse the order.
    #[arg(long)]
    pub desc: bool,
}

/// `health list --sort` keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum HealthSort {
    #[default]
    Name,
    State,
    Latency,
    LastOk,
}

/// `account list --sort` keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum AccountSort {
    #[default]
    Name,
    Connector,
    State,
}

#[derive(Debug, Subcommand)]
pub enum HealthCmd {
    /// One row per account: name, state, reason, latency, last ok, time in state.
    List(HealthListArgs),
    /// The last known health of one account.
    Get {
        /// Account id or name.
        #[arg(value_name = "ID|NAME", add = account_completer())]
        account: String,
    },
    /// Check one account now (outside its schedule) and print the result.
    Check {
        /// Account id or name.
        #[arg(value_name = "ID|NAME", add = account_completer())]
        account: String,
    },
    /// One account's retained events, newest first: health changes (previous -> new state,
    /// reason, message) and changes to the account. A deleted account's still answer by id.
    History {
        /// Account id or name.
        #[arg(value_name = "ID|NAME", add = account_completer())]
        account: String,
        /// How many events to show.
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u32,
    },
}

/// `rosterctl watch` filters (an event must pass every one given; repeated flags: any of them).
#[derive(Debug, Clone, Default, Args)]
pub struct WatchFilterArgs {
    /// Only this account's events (id or name; repeatable).
    #[arg(long = "account", value_name = "ID|NAME", add = account_completer())]
    pub accounts: Vec<String>,
    /// Only accounts with this label (repeatable; all must match).
    #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Only events of this kind (repeatable).
    #[arg(long = "kind", value_enum, value_name = "KIND")]
    pub kinds: Vec<EventKindArg>,
    /// Only health events whose new state is this (repeatable).
    #[arg(long = "state", value_enum, value_name = "STATE")]
    pub states: Vec<StateArg>,
}

/// `rosterctl audit` filters (a record must pass every one given).
#[derive(Debug, Clone, Default, Args)]
pub struct AuditFilterArgs {
    /// Only this principal's records (exactly).
    #[arg(long, value_name = "P", value_parser = non_blank)]
    pub principal: Option<String>,
    /// Only this action, or this RPC's records (exactly).
    #[arg(long, value_name = "A", value_parser = non_blank)]
    pub action: Option<String>,
    /// Only records about this account (id or name), refusals included.
    #[arg(long, value_name = "ID|NAME", value_parser = non_blank, add = account_completer())]
    pub account: Option<String>,
    /// Only records at or after this time (RFC 3339), or this long ago (1h).
    #[arg(long, value_name = "TIME|DUR", value_parser = parse_when)]
    pub since: Option<SystemTime>,
    /// Only records before this time (RFC 3339), or this long ago (10m).
    #[arg(long, value_name = "TIME|DUR", value_parser = parse_when)]
    pub until: Option<SystemTime>,
    /// Only what happened (ok) or what did not (refused).
    #[arg(long, value_enum)]
    pub outcome: Option<OutcomeArg>,
}

/// Audit outcomes as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    Ok,
    Refused,
}

/// Event kinds as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventKindArg {
    AccountCreated,
    AccountUpdated,
    AccountDeleted,
    HealthChanged,
    KeyRotated,
    HealthSnapshot,
}

/// A flag value that must say something.
fn non_blank(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("must not be blank".into());
    }
    Ok(t.to_string())
}

/// An RFC 3339 time, or a duration meaning that long before now.
pub fn parse_when(s: &str) -> Result<SystemTime, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t);
    }
    let ago = humantime::parse_duration(s).map_err(|_| {
        format!("{s:?} is neither an RFC 3339 time (2026-12-01T09:30:00Z) nor a duration (1h)")
    })?;
    SystemTime::now()
        .checked_sub(ago)
        .ok_or_else(|| format!("{s:?} is too long ago"))
}

/// Health states as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Unknown,
    Up,
    Degraded,
    Down,
    Disabled,
}

/// Which accounts a portfolio view covers and how fresh it must be.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  rosterctl funds
  rosterctl positions --label desk=a --net
  rosterctl orders --account acc1 --account acc2 --status open
  rosterctl holdings --refresh
  rosterctl trades --max-staleness 1m
  rosterctl funds --sort cash --desc            # rows by cash, largest first; TOTAL stays last

Money is shown with its currency (CCY) and totalled per currency, never across currencies.

Exit status: 0 when every selected account's section is fresh; 3 when the answer is partial (a
section failed or is stale), with the book still printed (table or -o json); 1 when the request
itself failed; 2 for a usage error. An account whose venue does not have the book (Alpaca has
no holdings) is shown as \"unsupported\", which is not partial.")]
pub struct PortfolioArgs {
    /// Only this account (id or name; repeatable). Default: every enabled account.
    #[arg(long = "account", value_name = "ID|NAME", add = account_completer())]
    pub accounts: Vec<String>,
    /// Only accounts with this label (repeatable; all must match).
    #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Always fetch from the upstreams instead of serving recent snapshots.
    #[arg(long)]
    pub refresh: bool,
    /// Order of the rows: name (account names in natural order, demo-2 before demo-10), or the
    /// book's money column: funds cash, balances total, positions pnl, orders price, trades
    /// value, holdings pnl (rows without an amount last). TOTAL and summary lines stay last.
    #[arg(long, value_name = "KEY", default_value = "name")]
    pub sort: String,
    /// Reverse the order.
    #[arg(long)]
    pub desc: bool,
    /// Serve snapshots younger than this (e.g. 500ms, 30s, 5m). Default: the daemon's setting.
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub max_staleness: Option<Duration>,
}

#[derive(Debug, Clone, Args)]
pub struct NetPortfolioArgs {
    #[command(flatten)]
    pub common: PortfolioArgs,
    /// Merge rows by instrument across accounts.
    #[arg(long)]
    pub net: bool,
}

/// The order statuses OpenAlgo reports (its order mapping normalises every broker's onto these).
pub const ORDER_STATUSES: [&str; 5] = [
    "open",
    "complete",
    "rejected",
    "cancelled",
    "trigger pending",
];

#[derive(Debug, Clone, Args)]
pub struct OrdersArgs {
    #[command(flatten)]
    pub common: PortfolioArgs,
    /// Only orders with this status, as OpenAlgo normalises them.
    #[arg(
        long,
        ignore_case = true,
        value_parser = clap::builder::PossibleValuesParser::new(ORDER_STATUSES)
            .map(|s| s.to_lowercase())
    )]
    pub status: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Re-seal every account's credential under a new master key, in one transaction.
    #[command(
        after_help = "The daemon takes the new key where its config says; under --dev it generates one."
    )]
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum PkiCmd {
    /// Create a CA, a server certificate and the admin client profile DIR/admin.
    #[command(after_help = "\
Example:
  rosterctl pki init --dir /etc/roster/pki --san roster.internal --san 10.0.0.7

Writes DIR/ca.pem, DIR/ca.key, DIR/server.pem, DIR/server.key and DIR/admin/{ca,cert,key}.pem.
The server certificate always covers localhost, 127.0.0.1 and ::1.")]
    Init {
        /// Directory to create the PKI in.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Extra server name or IP address (repeatable).
        #[arg(long = "san", value_name = "NAME")]
        sans: Vec<String>,
        /// Replace an existing CA (every certificate it issued stops working).
        #[arg(long)]
        force: bool,
    },
    /// Issue a client certificate with a role into a profile directory.
    #[command(after_help = "\
Example:
  rosterctl pki issue --dir /etc/roster/pki --name grafana --role viewer --out ./grafana
  rosterctl --profile ./grafana status

Prints the certificate's serial: put it in the daemon's [tls] revoked_serials to revoke it.")]
    Issue {
        /// PKI directory holding ca.pem and ca.key.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Principal name (certificate CN): 1-64 characters of [A-Za-z0-9._@-].
        #[arg(long)]
        name: String,
        /// What the holder may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Profile directory to write ca.pem, cert.pem and key.pem into.
        #[arg(long, value_name = "PROFILE_DIR")]
        out: PathBuf,
        /// Validity in days.
        #[arg(long, value_name = "N", default_value_t = 365,
              value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// Overwrite an existing certificate in PROFILE_DIR.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Everything.
    Admin,
    /// Account writes, checks, all reads.
    Operator,
    /// Reads only.
    Viewer,
}

impl From<RoleArg> for roster_pki::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Self::Admin,
            RoleArg::Operator => Self::Operator,
            RoleArg::Viewer => Self::Viewer,
        }
    }
}

/// Tab on an account argument offers the daemon's account names (see `complete.rs`).
fn account_completer() -> clap_complete::engine::ArgValueCompleter {
    clap_complete::engine::ArgValueCompleter::new(crate::complete::account_names)
}

/// Parses `K=V`. The key must be non-empty; neither side may contain `,` (the selector
/// separator) and the key may not contain `=`, so a label always round-trips through a selector.
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected K=V, got {s:?}"))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(format!("label key is empty in {s:?}"));
    }
    if k.contains(',') || v.contains(',') {
        return Err(format!("label {s:?} may not contain ','"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// The `k=v,k2=v2` selector the API takes.
pub fn label_selector(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut v = vec!["rosterctl"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v)
    }

    fn cmd(args: &[&str]) -> Command {
        parse(args).unwrap().command
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
        // The client certificate's key is --client-key; --key stays as an alias for scripts.
        for flag in ["--client-key", "--key"] {
            let cli = parse(&[flag, "/k.pem", "status"]).unwrap();
            assert_eq!(cli.conn.key, Some(PathBuf::from("/k.pem")));
        }
    }

    #[test]
    fn tz_and_sort_flags_parse_and_bad_values_are_usage_errors() {
        let cli = parse(&["--tz", "Asia/Kolkata", "status"]).unwrap();
        assert_eq!(
            cli.tz.as_ref().and_then(|z| z.iana_name()),
            Some("Asia/Kolkata")
        );
        let e = parse(&["health", "--tz", "Mars/Olympus"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("IANA name"), "{e}");

        match cmd(&["account", "list", "--sort", "connector", "--desc"]) {
            Command::Account(AccountCmd::List { sort, desc, .. }) => {
                assert_eq!((sort, desc), (AccountSort::Connector, true));
            }
            other => panic!("{other:?}"),
        }
        match cmd(&["health", "--sort", "last-ok"]) {
            Command::Health(h) => assert_eq!(h.list.sort, HealthSort::LastOk),
            other => panic!("{other:?}"),
        }
        let e = parse(&["health", "list", "--sort", "pnl"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        for key in ["name", "state", "latency", "last-ok"] {
            assert!(msg.contains(key), "{msg}");
        }
        match cmd(&["positions", "--sort", "pnl", "--desc", "--net"]) {
            Command::Positions(a) => {
                assert_eq!((a.common.sort.as_str(), a.common.desc), ("pnl", true))
            }
            other => panic!("{other:?}"),
        }
        match cmd(&["funds"]) {
            Command::Funds(a) => assert_eq!((a.sort.as_str(), a.desc), ("name", false)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn globals_and_defaults() {
        let cli = parse(&["status"]).unwrap();
        assert_eq!(cli.output, Output::Table);
        assert!(cli.conn.addr.starts_with("https://"));
        let cli = parse(&[
            "--addr",
            "https://h:1",
            "--profile",
            "/p",
            "--ca",
            "/c",
            "status",
            "-o",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.conn.addr, "https://h:1");
        assert_eq!(
            cli.conn.profile.as_deref(),
            Some(std::path::Path::new("/p"))
        );
        assert_eq!(cli.output, Output::Json);
        assert!(parse(&["-o", "yaml", "status"]).is_err());
    }

    #[test]
    fn account_add_requires_exactly_one_key_source() {
        match cmd(&[
            "account",
            "add",
            "--name",
            "a",
            "--host",
            "http://h",
            "--label",
            "desk=a",
            "--api-key-stdin",
        ]) {
            Command::Account(AccountCmd::Add {
                name,
                labels,
                key,
                disabled,
                ..
            }) => {
                assert_eq!(name, "a");
                assert_eq!(labels, vec![("desk".into(), "a".into())]);
                assert_eq!(
                    key.source(),
                    Some(CredentialSource::ApiKey(KeySource::Stdin))
                );
                assert!(!disabled);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            cmd(&[
                "accounts",
                "add",
                "--name",
                "a",
                "--host",
                "h",
                "--api-key-file",
                "/k"
            ]),
            Command::Account(AccountCmd::Add { .. })
        ));
        assert!(parse(&["account", "add", "--name", "a", "--host", "h"]).is_err());
        assert!(
            parse(&[
                "account",
                "add",
                "--name",
                "a",
                "--host",
                "h",
                "--api-key-stdin",
                "--api-key-file",
                "/k"
            ])
            .is_err()
        );
        // There is no flag that takes the key itself.
        assert!(
            parse(&[
                "account",
                "add",
                "--name",
                "a",
                "--host",
                "h",
                "--api-key",
                "x"
            ])
            .is_err()
        );
    }

    #[test]
    fn account_subcommands_parse() {
        assert!(matches!(
            cmd(&["account", "list", "--label", "a=b", "--state", "down"]),
            Command::Account(AccountCmd::List {
                state: Some(StateArg::Down),
                ..
            })
        ));
        assert!(matches!(
            cmd(&["account", "get", "acc1"]),
            Command::Account(AccountCmd::Get { .. })
        ));
        assert!(matches!(
            cmd(&["account", "enable", "x"]),
            Command::Account(AccountCmd::Enable { .. })
        ));
        assert!(matches!(
            cmd(&["account", "disable", "x"]),
            Command::Account(AccountCmd::Disable { .. })
        ));
        assert!(matches!(
            cmd(&["account", "remove", "x"]),
            Command::Account(AccountCmd::Remove { .. })
        ));
        match cmd(&[
            "account",
            "update",
            "acc1",
            "--host",
            "http://n",
            "--api-key-file",
            "/k",
        ]) {
            Command::Account(AccountCmd::Update {
                account,
                host,
                key,
                name,
                labels,
                ..
            }) => {
                assert_eq!(account, "acc1");
                assert_eq!(host.as_deref(), Some("http://n"));
                assert_eq!(
                    key.source(),
                    Some(CredentialSource::ApiKey(KeySource::File("/k".into())))
                );
                assert!(name.is_none() && labels.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["account", "update", "a", "--label", "x=y", "--clear-labels"]).is_err());
        assert!(parse(&["account", "get"]).is_err());
    }

    #[test]
    fn enable_disable_remove_take_one_account_or_labels() {
        for verb in ["enable", "disable", "remove", "rm"] {
            match cmd(&[
                "account", verb, "--label", "desk=a", "--label", "tier=2", "--yes",
            ]) {
                Command::Account(
                    AccountCmd::Enable { target }
                    | AccountCmd::Disable { target }
                    | AccountCmd::Remove { target },
                ) => {
                    assert!(target.which.account.is_none() && target.yes, "{verb}");
                    assert_eq!(target.which.labels.len(), 2, "{verb}");
                }
                other => panic!("{other:?}"),
            }
            // Exactly one of the two, and --yes only where there is something to confirm.
            for bad in [
                &["account", verb][..],
                &["account", verb, "acc1", "--label", "desk=a"],
                &["account", verb, "acc1", "--yes"],
                &["account", verb, "--label", "nope"],
            ] {
                let e = parse(bad).unwrap_err();
                assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
            }
        }
        match cmd(&["account", "disable", "acc1"]) {
            Command::Account(AccountCmd::Disable { target }) => {
                assert_eq!(target.which.account.as_deref(), Some("acc1"));
                assert!(target.which.labels.is_empty() && !target.yes);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn account_test_takes_an_account_or_a_host_and_key() {
        assert!(matches!(
            cmd(&["account", "test", "acc1"]),
            Command::Account(AccountCmd::Test {
                account: Some(_),
                host: None,
                ..
            })
        ));
        assert!(matches!(
            cmd(&["account", "test", "--host", "http://h", "--api-key-stdin"]),
            Command::Account(AccountCmd::Test {
                account: None,
                host: Some(_),
                ..
            })
        ));
        assert!(parse(&["account", "test"]).is_err());
        assert!(parse(&["account", "test", "--host", "http://h"]).is_err());
        assert!(
            parse(&[
                "account",
                "test",
                "acc1",
                "--host",
                "http://h",
                "--api-key-stdin"
            ])
            .is_err()
        );
    }

    #[test]
    fn account_add_takes_a_venue_and_its_credential_fields() {
        match cmd(&[
            "account",
            "add",
            "--name",
            "alp1",
            "--connector",
            "alpaca",
            "--env",
            "paper",
            "--credentials-file",
            "/c.json",
        ]) {
            Command::Account(AccountCmd::Add {
                connector,
                env,
                host,
                key,
                ..
            }) => {
                assert_eq!(connector, "alpaca");
                assert_eq!(env.as_deref(), Some("paper"));
                // The daemon fills the venue's host for the environment.
                assert!(host.is_none());
                assert_eq!(
                    key.source(),
                    Some(CredentialSource::Fields(KeySource::File("/c.json".into())))
                );
            }
            other => panic!("{other:?}"),
        }
        // Defaults: OpenAlgo, and no environment sent (the daemon picks the venue's default).
        match cmd(&["account", "add", "--name", "a", "--credentials-stdin"]) {
            Command::Account(AccountCmd::Add {
                connector,
                env,
                key,
                ..
            }) => {
                assert_eq!(connector, "openalgo");
                assert!(env.is_none());
                assert_eq!(
                    key.source(),
                    Some(CredentialSource::Fields(KeySource::Stdin))
                );
            }
            other => panic!("{other:?}"),
        }
        // Exactly one credential source.
        for two in [
            ["--credentials-stdin", "--api-key-stdin"],
            ["--credentials-stdin", "--credentials-file=/c"],
            ["--api-key-file=/k", "--credentials-file=/c"],
        ] {
            let mut args = vec!["account", "add", "--name", "a"];
            args.extend(two);
            let e = parse(&args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{two:?}");
        }
        assert!(parse(&["account", "add", "--name", "a", "--connector", "alpaca"]).is_err());
        // Secrets are never argv values.
        assert!(parse(&["account", "add", "--name", "a", "--credentials", "{}"]).is_err());
    }

    #[test]
    fn account_update_and_test_take_credential_fields() {
        match cmd(&["account", "update", "alp1", "--credentials-stdin"]) {
            Command::Account(AccountCmd::Update { key, .. }) => assert_eq!(
                key.source(),
                Some(CredentialSource::Fields(KeySource::Stdin))
            ),
            other => panic!("{other:?}"),
        }
        match cmd(&[
            "account",
            "test",
            "--connector",
            "alpaca",
            "--env",
            "paper",
            "--credentials-file",
            "/c.json",
        ]) {
            Command::Account(AccountCmd::Test {
                account: None,
                connector,
                env,
                host: None,
                key,
            }) => {
                assert_eq!(connector.as_deref(), Some("alpaca"));
                assert_eq!(env.as_deref(), Some("paper"));
                assert!(matches!(key.source(), Some(CredentialSource::Fields(_))));
            }
            other => panic!("{other:?}"),
        }
        // A venue to test needs a credential; an existing account takes none.
        assert!(parse(&["account", "test", "--connector", "alpaca"]).is_err());
        assert!(parse(&["account", "test", "acc1", "--credentials-stdin"]).is_err());
        assert!(parse(&["account", "test", "acc1", "--env", "paper"]).is_err());
    }

    #[test]
    fn credential_flags_document_every_venues_fields() {
        let mut cli = Cli::command();
        let account = cli.find_subcommand_mut("account").unwrap();
        for name in ["add", "update", "test"] {
            let help = account
                .find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string();
            for needle in [
                "--credentials-stdin",
                "--credentials-file",
                "alpaca    {\"key_id\", \"secret_key\"}",
                "okx       {\"api_key\", \"secret_key\", \"passphrase\"}",
                "coinbase  {\"key_name\", \"private_key\"}",
            ] {
                assert!(
                    help.contains(needle),
                    "account {name} --help lacks {needle}: {help}"
                );
            }
        }
        let help = account
            .find_subcommand_mut("add")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("--connector <KIND>") && help.contains("--env <ENV>"));
    }

    #[test]
    fn venues_and_balances_parse() {
        assert!(matches!(cmd(&["venues"]), Command::Venues));
        assert!(matches!(cmd(&["venues", "-o", "json"]), Command::Venues));
        match cmd(&[
            "balances",
            "--account",
            "a",
            "--label",
            "k=v",
            "--refresh",
            "--max-staleness",
            "2s",
        ]) {
            Command::Balances(a) => {
                assert_eq!(a.accounts, vec!["a"]);
                assert!(a.refresh);
                assert_eq!(a.max_staleness, Some(Duration::from_secs(2)));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["balances", "--net"]).is_err());
    }

    #[test]
    fn health_defaults_to_list() {
        match cmd(&["health"]) {
            Command::Health(HealthArgs { cmd: None, list }) => assert!(list.labels.is_empty()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            cmd(&["health", "--state", "up"]),
            Command::Health(HealthArgs {
                cmd: None,
                list: HealthListArgs {
                    state: Some(StateArg::Up),
                    ..
                }
            })
        ));
        assert!(matches!(
            cmd(&["health", "list", "--label", "a=b"]),
            Command::Health(HealthArgs {
                cmd: Some(HealthCmd::List(_)),
                ..
            })
        ));
        assert!(matches!(
            cmd(&["health", "get", "x"]),
            Command::Health(HealthArgs {
                cmd: Some(HealthCmd::Get { .. }),
                ..
            })
        ));
        assert!(matches!(
            cmd(&["health", "check", "x"]),
            Command::Health(HealthArgs {
                cmd: Some(HealthCmd::Check { .. }),
                ..
            })
        ));
    }

    #[test]
    fn watch_status_backup_key_audit_completions() {
        assert!(matches!(cmd(&["watch"]), Command::Watch { from: 0, .. }));
        assert!(matches!(
            cmd(&["watch", "--from", "42"]),
            Command::Watch { from: 42, .. }
        ));
        assert!(parse(&["watch", "--from", "-1"]).is_err());
        assert!(matches!(cmd(&["status"]), Command::Status));
        assert!(matches!(
            cmd(&["backup", "--out", "/b"]),
            Command::Backup { .. }
        ));
        assert!(parse(&["backup"]).is_err());
        assert!(matches!(
            cmd(&["key", "rotate"]),
            Command::Key(KeyCmd::Rotate)
        ));
        assert!(matches!(cmd(&["audit"]), Command::Audit { limit: 50, .. }));
        assert!(matches!(
            cmd(&["audit", "--limit", "5"]),
            Command::Audit { limit: 5, .. }
        ));
        for sh in ["bash", "zsh", "fish"] {
            assert!(matches!(
                cmd(&["completions", sh]),
                Command::Completions { .. }
            ));
        }
        assert!(parse(&["completions", "cmd.exe"]).is_err());
    }

    #[test]
    fn book_commands_document_their_exit_status() {
        let mut cli = Cli::command();
        for name in [
            "funds",
            "balances",
            "positions",
            "orders",
            "trades",
            "holdings",
        ] {
            let help = cli
                .find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string();
            assert!(
                help.contains("Exit status")
                    && help.contains("3 when the answer is partial")
                    && help.contains("\"unsupported\", which is not partial"),
                "{name} --help: {help}"
            );
        }
    }

    #[test]
    fn portfolio_commands_parse() {
        match cmd(&[
            "positions",
            "--account",
            "a",
            "--account",
            "b",
            "--label",
            "k=v",
            "--refresh",
            "--max-staleness",
            "1m30s",
            "--net",
        ]) {
            Command::Positions(NetPortfolioArgs { common, net }) => {
                assert!(net && common.refresh);
                assert_eq!(common.accounts, vec!["a", "b"]);
                assert_eq!(common.max_staleness, Some(Duration::from_secs(90)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(cmd(&["funds"]), Command::Funds(_)));
        assert!(matches!(cmd(&["trades"]), Command::Trades(_)));
        assert!(matches!(
            cmd(&["holdings", "--net"]),
            Command::Holdings(NetPortfolioArgs { net: true, .. })
        ));
        assert!(matches!(
            cmd(&["orders", "--status", "open"]),
            Command::Orders(OrdersArgs {
                status: Some(_),
                ..
            })
        ));
        assert!(parse(&["funds", "--net"]).is_err());
        // A status no order can have is a usage error, not an empty answer; case does not matter.
        let e = parse(&["orders", "--status", "bogus"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(e.to_string().contains("trigger pending"), "{e}");
        match cmd(&["orders", "--status", "Trigger Pending"]) {
            Command::Orders(OrdersArgs { status, .. }) => {
                assert_eq!(status.as_deref(), Some("trigger pending"));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["funds", "--max-staleness", "soon"]).is_err());
    }

    #[test]
    fn pki_commands_parse() {
        match cmd(&[
            "pki",
            "init",
            "--dir",
            "/d",
            "--san",
            "a.example",
            "--san",
            "10.0.0.1",
        ]) {
            Command::Pki(PkiCmd::Init { sans, force, .. }) => {
                assert_eq!(sans, vec!["a.example", "10.0.0.1"]);
                assert!(!force);
            }
            other => panic!("{other:?}"),
        }
        match cmd(&[
            "pki", "issue", "--dir", "/d", "--name", "n", "--role", "viewer", "--out", "/o",
        ]) {
            Command::Pki(PkiCmd::Issue { role, days, .. }) => {
                assert_eq!(role, RoleArg::Viewer);
                assert_eq!(days, 365);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            parse(&[
                "pki", "issue", "--dir", "/d", "--name", "n", "--role", "root", "--out", "/o"
            ])
            .is_err()
        );
        assert!(
            parse(&[
                "pki", "issue", "--dir", "/d", "--name", "n", "--role", "admin", "--out", "/o",
                "--days", "0"
            ])
            .is_err()
        );
    }

    #[test]
    fn labels_parse_with_clear_errors() {
        assert_eq!(parse_label("a=b").unwrap(), ("a".into(), "b".into()));
        assert_eq!(parse_label("a=").unwrap(), ("a".into(), String::new()));
        assert_eq!(parse_label("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_label("ab").unwrap_err().contains("K=V"));
        assert!(parse_label("=b").unwrap_err().contains("empty"));
        assert!(parse_label("a=b,c=d").unwrap_err().contains(','));
        let e = parse(&["account", "list", "--label", "nope"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("K=V"), "{e}");
        assert_eq!(
            label_selector(&[("a".into(), "1".into()), ("b".into(), "2".into())]),
            "a=1,b=2"
        );
    }

    #[test]
    fn audit_watch_and_history_filters() {
        match cmd(&[
            "audit",
            "--principal",
            "alice",
            "--action",
            "UpdateAccount",
            "--account",
            "acc1",
            "--since",
            "1h",
            "--until",
            "2026-12-01T00:00:00Z",
            "--outcome",
            "refused",
        ]) {
            Command::Audit { limit: 50, filter } => {
                assert_eq!(filter.principal.as_deref(), Some("alice"));
                assert_eq!(filter.action.as_deref(), Some("UpdateAccount"));
                assert_eq!(filter.account.as_deref(), Some("acc1"));
                let hour_ago = SystemTime::now() - Duration::from_secs(3600);
                let since = filter.since.unwrap();
                assert!(since <= hour_ago && since > hour_ago - Duration::from_secs(60));
                assert_eq!(
                    filter.until,
                    Some(humantime::parse_rfc3339("2026-12-01T00:00:00Z").unwrap())
                );
                assert_eq!(filter.outcome, Some(OutcomeArg::Refused));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            &["audit", "--principal", " "][..],
            &["audit", "--since", "yesterday"],
            &["audit", "--outcome", "maybe"],
            &["watch", "--state", "sideways"],
            &["watch", "--kind", "nope"],
            &["watch", "--label", "desk"],
            &["health", "history"],
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
        match cmd(&[
            "watch",
            "--account",
            "a",
            "--account",
            "b",
            "--label",
            "desk=x",
            "--kind",
            "health-changed",
            "--state",
            "down",
            "--state",
            "up",
        ]) {
            Command::Watch { from: 0, filter } => {
                assert_eq!(filter.accounts, ["a", "b"]);
                assert_eq!(filter.labels, [("desk".to_string(), "x".to_string())]);
                assert_eq!(filter.kinds, [EventKindArg::HealthChanged]);
                assert_eq!(filter.states, [StateArg::Down, StateArg::Up]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            cmd(&["health", "history", "acc1", "--limit", "3"]),
            Command::Health(HealthArgs {
                cmd: Some(HealthCmd::History { limit: 3, .. }),
                ..
            })
        ));
    }
}
