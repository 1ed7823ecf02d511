//! The `dredge` command: record, check and question syscall captures of Linux containers.
//!
//! One file per command under `cmd/`. Library crates return typed errors; this binary wraps
//! them with `anyhow`, prints the whole chain on stderr, and turns them into the exit codes of
//! [`exit`]. Data goes to stdout, logs and progress to stderr.

mod cmd;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Replay frees on one thread what another allocated (batches, shared state versions); glibc's
/// allocator spends a tenth of the tracker's time on that, mimalloc little.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "dredge", version, about, after_help = exit::HELP)]
struct Cli {
    /// More logging on stderr (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Info(cmd::info::Args),
    Import(cmd::import::Args),
    Export(cmd::export::Args),
    Replay(Box<cmd::replay::Args>),
    Print(cmd::print::Args),
    Spans(cmd::spans::Args),
    Top(cmd::top::Args),
    /// The processes running at a moment of a capture, with container, user, command line.
    Ps(cmd::ps::Args),
    /// The notable acts of a capture in time order: programs, writes, connections, findings.
    Timeline(cmd::timeline::Args),
    /// The processes of a capture as a tree: lifetimes, programs run, exits, findings.
    Tree(cmd::tree::Args),
    /// The open fds at a moment of a capture, as sysdig's lsof chisel lists them.
    Lsof(cmd::lsof::Args),
    /// The internet sockets at a moment of a capture, as sysdig's netstat chisel lists them.
    Netstat(cmd::lsof::Args),
    /// Watch what users did (`spy users`) and who touched a file (`spy file`).
    #[command(subcommand)]
    Spy(cmd::spy::Command),
    Verify(cmd::verify::Args),
    Record(cmd::record::Args),
    Generate(cmd::generate::Args),
    Keygen(cmd::keygen::Args),
    /// Check, list and explain Falco rules files.
    #[command(subcommand)]
    Rules(cmd::rules::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cmd::set_quiet(cli.quiet);
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DREDGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_target(false)
        .without_time()
        .init();

    let result = match cli.command {
        Command::Info(args) => cmd::info::run(args),
        Command::Import(args) => cmd::import::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Replay(args) => cmd::replay::run(*args),
        Command::Print(args) => cmd::print::run(args),
        Command::Spans(args) => cmd::spans::run(args),
        Command::Top(args) => cmd::top::run(args),
        Command::Ps(args) => cmd::ps::run(args),
        Command::Timeline(args) => cmd::timeline::run(args),
        Command::Tree(args) => cmd::tree::run(args),
        Command::Lsof(args) => cmd::lsof::run(args, cmd::lsof::Table::Lsof),
        Command::Netstat(args) => cmd::lsof::run(args, cmd::lsof::Table::Netstat),
        Command::Spy(cmd) => cmd::spy::run(cmd),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Record(args) => cmd::record::run(args),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::Rules(cmd) => cmd::rules::run(cmd),
    };
    match result {
        Ok(code) => exit::code(code),
        // The reader of our output went away (`dredge print ... | head`): nothing is wrong.
        Err(err) if exit::is_broken_pipe(&err) => exit::code(exit::OK),
        Err(err) => {
            eprintln!("dredge: {err:#}");
            exit::code(exit::for_error(&err))
        }
    }
}
