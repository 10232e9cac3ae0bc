//! Command-line parsing and the exit-code policy: 2 for bad configuration, 1 for any other
//! failure, each reported as one line on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ServiceName};
use crate::node;

#[derive(Debug, Parser)]
#[command(
    name = "oxstack",
    version,
    about = "OpenStack's core services in one binary"
)]
struct Cli {
    /// Configuration file (TOML). Environment variables `OXSTACK_<SECTION>__<KEY>` override it.
    #[arg(long, global = true, env = "OXSTACK_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides `data_dir` in the configuration).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// All-in-one: migrate, bootstrap, start every enabled service, write clouds.yaml.
    Up,
    /// Run a chosen set of services (no bootstrap).
    Serve {
        /// Comma-separated services to run.
        #[arg(long, value_delimiter = ',', required = true)]
        services: Vec<ServiceName>,
    },
    /// Database schema management.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Create the default domain, admin account, roles, region and catalog (idempotent).
    Bootstrap,
    /// Check that this node can run: configuration, data dir, database, ports.
    Doctor,
    /// Identity service tools.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Apply pending migrations of every service.
    Migrate,
}

#[derive(Debug, Subcommand)]
enum IdentityCommand {
    /// Rotate the Fernet token keys (staged key becomes primary).
    FernetRotate,
    /// Create the Fernet key repository if it is missing.
    FernetSetup,
}

/// A failure of a command, classified for the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] oxstack_common::config::ConfigError),
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn failed(context: &str, e: impl std::fmt::Display) -> Self {
        CliError::Failed(format!("{context}: {e}"))
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match Config::load(cli.config.as_deref(), cli.data_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("oxstack: {e}");
            return ExitCode::from(2);
        }
    };
    node::init_logging(&cfg.log);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("oxstack: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Up => node::up(cfg).await,
            Command::Serve { services } => node::serve(cfg, services).await,
            Command::Db {
                command: DbCommand::Migrate,
            } => node::migrate(&cfg).await,
            Command::Bootstrap => node::bootstrap(&cfg).await,
            Command::Doctor => node::doctor(&cfg).await,
            Command::Identity {
                command: IdentityCommand::FernetRotate,
            } => node::fernet_rotate(&cfg),
            Command::Identity {
                command: IdentityCommand::FernetSetup,
            } => node::fernet_setup(&cfg),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Config(e)) => {
            eprintln!("oxstack: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("oxstack: {e}");
            ExitCode::FAILURE
        }
    }
}
