//! Command line (contract.md §1).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::ops::dlq::{Action, Assignment, Filter, Selection, operator};

#[derive(Debug, Parser)]
#[command(name = "collab-worker", version, about = "Back office of creator collaborations")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, declare the topology, consume until
    /// SIGTERM/SIGINT, then drain in-flight work and exit 0.
    Run,
    /// Inspect and replay dead-lettered messages (collab.events.dlq).
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Explain what the worker decided about an order, a campaign, a
    /// creator or an event, and why (reads the database: DATABASE_URL).
    Explain {
        #[arg(value_enum)]
        entity: crate::explain::Entity,
        id: String,
        /// The same JSON as the read API (`GET /v1/<entity>s/<id>`).
        #[arg(long)]
        json: bool,
        /// Page of the main list (participants, pending commissions, outcomes).
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Run a short story end to end against the local services (a worker
    /// in this process, a `<database>_demo` database) and print the outcomes.
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters: id, type, reason, first-death queue, count.
    List {
        #[command(flatten)]
        filter: Filter,
        /// At most this many rows.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Failure groups: dead letters with the same reason, type and detail
    /// (values stripped), with counts and first/last seen.
    Groups {
        #[command(flatten)]
        filter: Filter,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter: its headers and body.
    Show { id: String },
    /// Republish dead letters to their original exchange and routing key
    /// (same message id, publisher confirms), then remove them from the DLQ.
    Replay {
        /// The event id of one dead letter.
        id: Option<String>,
        /// Every dead letter matching the filter (all of them without one);
        /// `--group G` alone selects a failure group.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        #[command(flatten)]
        filter: Filter,
        /// Show what would be replayed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// At most this many replays per second.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        /// Who replays (recorded in the message and the worker's log);
        /// default: the login name.
        #[arg(long, env = "COLLAB_OPERATOR")]
        by: Option<String>,
    },
    /// Publish a corrected copy of a dead letter under a new id (header
    /// `x-collab-edit-of` names the original), then remove the original.
    Edit {
        /// The event id of the dead letter.
        id: String,
        /// PATH=VALUE: a field of the event (`data.amount`,
        /// `data.products[0].product_id`) and its value (JSON or text; the
        /// reading the contract accepts). Repeatable.
        #[arg(long = "set", value_name = "PATH=VALUE", required = true)]
        set: Vec<Assignment>,
        /// Print the corrected event; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Who edits (recorded in the message and the worker's log);
        /// default: the login name.
        #[arg(long, env = "COLLAB_OPERATOR")]
        by: Option<String>,
    },
    /// Write dead letters as NDJSON (they stay in the DLQ).
    Export {
        #[command(flatten)]
        filter: Filter,
        /// File to write; standard output without one.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Put dead letters exported as NDJSON back into the DLQ.
    Import { file: PathBuf },
    /// Remove every dead letter (asks for confirmation).
    Purge {
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

impl DlqCommand {
    pub fn into_action(self) -> Result<Action, String> {
        Ok(match self {
            DlqCommand::List { filter, limit, json } => Action::List { filter, limit, json },
            DlqCommand::Groups { filter, json } => Action::Groups { filter, json },
            DlqCommand::Show { id } => Action::Show { id },
            DlqCommand::Replay {
                id,
                all,
                filter,
                dry_run,
                rate,
                by,
            } => {
                let selection = match (id, all || filter.group.is_some()) {
                    (Some(id), _) => Selection::Id(id),
                    (None, true) => Selection::Filter(filter),
                    (None, false) => {
                        return Err("name a dead letter id, a --group, or --all (with filters to narrow it)".into());
                    }
                };
                Action::Replay {
                    selection,
                    dry_run,
                    rate,
                    by: operator(by),
                }
            }
            DlqCommand::Edit { id, set, dry_run, by } => Action::Edit {
                id,
                set,
                dry_run,
                by: operator(by),
            },
            DlqCommand::Export { filter, out } => Action::Export { filter, out },
            DlqCommand::Import { file } => Action::Import { file },
            DlqCommand::Purge { yes } => Action::Purge { yes },
        })
    }
}
