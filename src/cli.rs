//! Command line (contract.md §1).

use clap::{Parser, Subcommand};

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
}
