//! The command line: one subcommand per job, the same vocabulary as the API.

mod alerts;
mod audit;
mod commands;
pub mod ledger;
mod ledger_cmd;
mod market;
mod matching;
mod output;
mod sync;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use sebroker_model::exit;

#[derive(Debug, Parser)]
#[command(
    name = "sebroker",
    version,
    about = "Procurement brokerage matching engine for the social economy"
)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "SEBROKER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data folder (store, index, lock) [default: ./data].
    #[arg(long, global = true, env = "SEBROKER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Base URL of links in alerts and feeds [default: http://<addr>].
    #[arg(long, global = true, env = "SEBROKER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Send ledger and key commands to this running server (default: the
    /// one holding the data folder, if any).
    #[arg(long, global = true, env = "SEBROKER_SERVER")]
    pub server: Option<String>,
    /// The API key for --server (prefer the environment: flags show in `ps`).
    #[arg(long, global = true, env = "SEBROKER_KEY", hide_env_values = true)]
    pub key: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest OCDS files or folders (packages, records, JSON Lines, .gz).
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Source name for these releases (`anchor:<slug>`, `ocds:<name>`);
        /// default: from the ocid prefix (fts, cf).
        #[arg(long)]
        source: Option<String>,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Search notices.
    Search(Box<SearchArgs>),
    /// Show one notice in full.
    Notice {
        ocid: String,
        #[arg(long)]
        json: bool,
    },
    /// Counts of notices and releases, by source and status.
    Stats {
        /// Judge open/closed at this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        now: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index from the store.
    Reindex,
    /// Reference tables (CPV list, places).
    Reference {
        #[command(subcommand)]
        command: ReferenceCommand,
    },
    /// Cluster members: import, list, show.
    Members {
        #[command(subcommand)]
        command: MembersCommand,
    },
    /// Rank members for one notice (any status: timing excludes no one).
    Match {
        ocid: String,
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[arg(long)]
        json: bool,
    },
    /// A member's matched notices (closed, awarded and cancelled never appear).
    Matches {
        #[arg(long)]
        member: String,
        /// pipeline, planned, open (comma-separated) [default: all biddable].
        #[arg(long)]
        status: Option<String>,
        /// Judge deadlines at this time (RFC 3339 or YYYY-MM-DD) [default: now].
        #[arg(long)]
        now: Option<String>,
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[arg(long)]
        json: bool,
    },
    /// Propose consortia of members for a notice no single member covers.
    Consortia {
        ocid: String,
        #[arg(long, default_value_t = 4)]
        max_size: usize,
        #[arg(long, default_value_t = 3)]
        top: usize,
        #[arg(long)]
        json: bool,
    },
    /// Links between award notices and members' track records.
    Links {
        #[command(subcommand)]
        command: LinksCommand,
    },
    /// Measure match quality on real award data (train/test split).
    Evaluate {
        #[arg(long, required = true, num_args = 1..)]
        train: Vec<PathBuf>,
        /// Held-out files (required unless --fit).
        #[arg(long, num_args = 1..)]
        test: Vec<PathBuf>,
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// A postcode-districts CSV with coordinates (distances from
        /// suppliers to the work); default `[matching] postcode_districts`.
        #[arg(long)]
        postcodes: Option<PathBuf>,
        /// Fit the learned ranker on every file given (train and test) and
        /// write it to --out instead of evaluating.
        #[arg(long, requires = "out")]
        fit: bool,
        /// Where --fit writes the model (JSON).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also try boosted trees (LambdaMART) on top of the linear ranker,
        /// kept if train-side cross-validation says they earn their place.
        #[arg(long)]
        trees: bool,
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP API (and sync the live sources on a schedule).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "SEBROKER_ADDR")]
        addr: Option<String>,
        /// Load the fictional demo data into a fresh temporary data folder
        /// (never syncs).
        #[arg(long)]
        demo: bool,
        /// Do not sync the live sources.
        #[arg(long)]
        no_sync: bool,
        /// Minutes between two sync runs of a source [default: 15].
        #[arg(long, env = "SEBROKER_SYNC_INTERVAL")]
        sync_interval: Option<u64>,
        #[command(flatten)]
        urls: SourceUrls,
    },
    /// Fetch notices from the live sources (backfill, or continue from the
    /// last completed window).
    Sync {
        /// fts, cf, all (fts, cf and every configured feed) or ocds:<name>.
        source: String,
        /// First day to fetch (YYYY-MM-DD, UK time) [default: continue].
        #[arg(long)]
        from: Option<String>,
        /// Last day to fetch, inclusive (YYYY-MM-DD) [default: now].
        #[arg(long)]
        to: Option<String>,
        /// The clock (RFC 3339), for tests and replays.
        #[arg(long, hide = true)]
        now: Option<String>,
        #[command(flatten)]
        urls: SourceUrls,
        #[arg(long)]
        json: bool,
    },
    /// Alerts to members and brokers: run the engine, see deliveries, set
    /// a member's alert settings.
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// Opportunities that anchor institutions enter themselves.
    Anchors {
        #[command(subcommand)]
        command: AnchorsCommand,
    },
    /// API keys: create (the key is printed once), list, revoke.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Brokerage cases: open, list, show, add an event (a step, a win, a void).
    Cases {
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// Referrals of members to SEGA and SEDF.
    Referrals {
        #[command(subcommand)]
        command: ReferralsCommand,
    },
    /// Members' yearly returns: import a CSV, list.
    Returns {
        #[command(subcommand)]
        command: ReturnsCommand,
    },
    /// Brokered value by a dimension, with progress to the target.
    Totals {
        /// cluster, member, source, buyer, cpv_division, month, programme_year.
        #[arg(long, default_value = "cluster")]
        by: String,
        #[arg(long)]
        json: bool,
        /// Print CSV.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// The programme's KPIs against their targets.
    Kpis {
        /// Judge the programme year on this day (YYYY-MM-DD) [default: today].
        #[arg(long)]
        today: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Awards naming members: wins to confirm on open cases, and wins
    /// without brokerage (listed, never counted).
    Reconcile {
        #[arg(long)]
        json: bool,
    },
    /// Write a JSON Lines backup of members, keys and the ledger, verified
    /// by re-reading [default: DATA_DIR/backups/ledger-<time>.jsonl].
    Backup {
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into the data folder (the ledger it replaces is kept
    /// aside).
    Restore {
        file: PathBuf,
        /// Replace a healthy ledger that holds more events than the backup.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check the ledger: hash chain, checksums, head file, totals.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Rewrite the notice store into a fresh folder (offline), so values an
    /// erasure replaced leave sled's segment files too.
    Compact {
        #[arg(long)]
        json: bool,
    },
    /// The audit log: every write through the API, the pages and the
    /// command line, accepted or refused (admins).
    Audit {
        /// Entries at or after this instant (RFC 3339, e.g. 2026-12-01T09:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only this actor (`key:<id>`, `cli:<user>`, `anonymous`).
        #[arg(long)]
        actor: Option<String>,
        /// Only kinds containing this (`POST /api/v1/cases`, `cli members`).
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        #[arg(long)]
        csv: bool,
    },
    /// The market map: open and awarded value place by place, members who
    /// can cover it (counts only) and the CPV divisions no member matches.
    Market {
        /// local_authority, cluster, region or cpv_division.
        #[arg(long, default_value = "local_authority")]
        by: String,
        /// Judge open notices at this time (RFC 3339 or YYYY-MM-DD) [default: now].
        #[arg(long)]
        now: Option<String>,
        /// The awards' window: first day [default: 12 months before --to].
        #[arg(long)]
        from: Option<String>,
        /// The awards' window: last day [default: --now].
        #[arg(long)]
        to: Option<String>,
        /// Comma-separated CPV codes or prefixes.
        #[arg(long)]
        cpv: Option<String>,
        /// Comma-separated sources (fts, cf, anchor:<slug>, ocds:<name>).
        #[arg(long)]
        source: Option<String>,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        #[arg(long)]
        csv: bool,
    },
    /// The ledger itself: create one where the folder lost it.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create the ledger. In a folder that remembers a ledger which is now
    /// missing, only with --replace-missing (the new ledger's first event
    /// records what it replaced); prefer `restore` from a backup.
    Init {
        /// Start a new, empty ledger in place of a missing one.
        #[arg(long)]
        replace_missing: bool,
        /// Record the (healthy) ledger in a notice store that does not
        /// remember it (a store rebuilt on purpose).
        #[arg(long, conflicts_with = "replace_missing")]
        adopt_store: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once; only its hash is stored).
    Create {
        /// admin, broker, funder or member.
        #[arg(long)]
        role: String,
        /// For member keys: the member the key may see.
        #[arg(long)]
        member: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// The key stops working at 00:00 UTC on this date (YYYY-MM-DD).
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Revoke {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// Open a case (status identified) on a notice for a member or consortium.
    Open {
        #[arg(long)]
        ocid: String,
        /// A member id; repeat for a consortium.
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// The consortium's lead [default: the first --member].
        #[arg(long)]
        lead: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        /// YYYY-MM-DD [default: today].
        #[arg(long)]
        date: Option<String>,
        /// Send the same key to retry without booking twice [default: new].
        #[arg(long)]
        idempotency_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        member: Option<String>,
        #[arg(long)]
        json: bool,
    },
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Add an event: introduced, interested, bid_submitted, won, lost,
    /// withdrawn, or void (a correction).
    Event {
        id: String,
        #[arg(long = "type")]
        kind: String,
        /// For won: the contract value in pence.
        #[arg(long)]
        value_pence: Option<i64>,
        /// For a consortium's win: MEMBER=BASIS_POINTS (repeat; sum 10000).
        #[arg(long = "share")]
        shares: Vec<String>,
        /// For void: the seq of the event that no longer counts.
        #[arg(long)]
        voids: Option<u64>,
        #[arg(long)]
        notes: Option<String>,
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        idempotency_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReferralsCommand {
    Add {
        #[arg(long)]
        member: String,
        /// sega or sedf.
        #[arg(long)]
        programme: String,
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        #[arg(long)]
        idempotency_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        member: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReturnsCommand {
    /// Import returns from CSV (member_id, year, turnover_pence, employees,
    /// new_products_services, new_markets, volunteering_hours,
    /// clients_supported, jobs_created, date, notes). Re-importing the same
    /// rows books nothing twice.
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        member: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// Base URLs of the national services (tests, proxies and mirrors).
#[derive(Debug, Clone, Args, Default)]
pub struct SourceUrls {
    /// Find a Tender base URL [default: https://www.find-tender.service.gov.uk].
    #[arg(long, env = "SEBROKER_FTS_URL")]
    pub fts_url: Option<String>,
    /// Contracts Finder base URL [default: https://www.contractsfinder.service.gov.uk].
    #[arg(long, env = "SEBROKER_CF_URL")]
    pub cf_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AnchorsCommand {
    /// Import a sebroker-anchors file (CSV or JSON, see docs/anchors.md);
    /// re-importing updates opportunities by reference.
    Import {
        file: PathBuf,
        /// The anchor's slug, e.g. walsall-council (source anchor:<slug>).
        #[arg(long)]
        anchor: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Select what is due (instant alerts, digests whose time has come,
    /// broker alerts), queue it, and attempt every due delivery once.
    Run {
        /// Show what would be alerted; queue and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Judge deadlines and digest times at this time (RFC 3339 or
        /// YYYY-MM-DD) [default: now].
        #[arg(long)]
        now: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The delivery log (queued, sending, sent, failed, dead).
    Deliveries {
        /// Only deliveries in this state.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show or change a member's alert settings (as the API's PUT).
    Settings {
        member: String,
        /// instant, daily, weekly, off.
        #[arg(long)]
        frequency: Option<String>,
        /// Score from 0 to 1 a match needs.
        #[arg(long)]
        threshold: Option<f64>,
        /// Email address ("" removes it).
        #[arg(long)]
        email: Option<String>,
        /// Webhook URL ("" removes it).
        #[arg(long)]
        webhook_url: Option<String>,
        /// Give the member an Atom feed (true) or revoke it (false).
        #[arg(long)]
        feed: Option<bool>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Import members (.json array, .jsonl, .csv); re-import replaces by id.
    /// Cluster changes are recorded in the ledger from --effective on.
    Import {
        file: PathBuf,
        /// The day cluster changes take effect (YYYY-MM-DD) [default: today].
        #[arg(long)]
        effective: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LinksCommand {
    /// List award links (proposed, confirmed, rejected).
    List {
        #[arg(long)]
        member: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Confirm that an award was won by the member.
    Confirm {
        member: String,
        ocid: String,
        award: String,
    },
    /// Reject a proposed link.
    Reject {
        member: String,
        ocid: String,
        award: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReferenceCommand {
    /// Import a reference file: the CPV 2008 list, or a places table
    /// (postcode districts, UK local authorities, LAD→NUTS lookup).
    Import {
        kind: ReferenceKind,
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReferenceKind {
    Cpv,
    Places,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to search for (all must match); empty lists everything.
    #[arg(default_value = "")]
    pub query: String,
    /// pipeline, planned, open, closed, awarded, cancelled (comma-separated).
    #[arg(long)]
    pub status: Option<String>,
    /// CPV code prefix, e.g. 85 or 85312000 (comma-separated).
    #[arg(long)]
    pub cpv: Option<String>,
    /// NUTS code (UKG finds UKG21), region name, local authority or postcode.
    #[arg(long)]
    pub region: Option<String>,
    /// Minimum value in whole pounds.
    #[arg(long)]
    pub min_value: Option<i64>,
    /// Maximum value in whole pounds.
    #[arg(long)]
    pub max_value: Option<i64>,
    /// Only notices where some lot weights social value at least this many percent.
    #[arg(long)]
    pub min_social_value: Option<f64>,
    /// Only notices suitable for VCSEs.
    #[arg(long)]
    pub vcse: bool,
    /// Only notices suitable for SMEs.
    #[arg(long)]
    pub sme: bool,
    /// Only competitions reserved for SMEs/VCSEs.
    #[arg(long)]
    pub reserved: bool,
    /// List every notice, not each opportunity group once.
    #[arg(long)]
    pub ungrouped: bool,
    /// fts, cf, anchor, anchor:<slug>, ocds:<name> (comma-separated).
    #[arg(long)]
    pub source: Option<String>,
    /// Procurement Act notice type, e.g. UK4 (comma-separated).
    #[arg(long = "type")]
    pub notice_type: Option<String>,
    /// Words in the buyer's name.
    #[arg(long)]
    pub buyer: Option<String>,
    #[arg(long)]
    pub deadline_from: Option<String>,
    #[arg(long)]
    pub deadline_to: Option<String>,
    /// relevance, deadline, value, published.
    #[arg(long)]
    pub sort: Option<String>,
    /// Judge open/closed at this time (RFC 3339 or YYYY-MM-DD) [default: now].
    #[arg(long)]
    pub now: Option<String>,
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Leave out the facet counts (faster; the API's `facets=false`).
    #[arg(long)]
    pub no_facets: bool,
    /// Leave out the highlighted snippets (the API's `snippets=false`).
    #[arg(long)]
    pub no_snippets: bool,
    #[arg(long)]
    pub json: bool,
}

/// Runs the command line and returns the exit code.
pub fn main() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    init_logging(matches!(cli.command, Command::Serve { .. }));
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::FAILED
        }
    }
}

fn init_logging(serving: bool) {
    let default = if serving {
        "info,tantivy=warn"
    } else {
        "warn,tantivy=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
