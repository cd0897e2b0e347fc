//! The command line (clap). Each subcommand loads, calls the library and maps the outcome to the documented exit
//! codes: 0 every cell matched, 1 a cell did not, 2 bad input or a harness fault.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::backend::Registry;
use crate::plan::{Selection, cells};
use crate::report::{Environment, Report};
use crate::runner::Context;
use crate::vocab::{BackendId, Role};
use crate::{Error, Layout};

/// Runs TLS scenarios across backends as a client x server matrix.
#[derive(Parser, Debug)]
#[command(name = "tlsmatrix", version, about)]
pub struct Cli {
    /// Project root holding scenarios/ and fixtures/.
    #[arg(long, global = true, default_value = ".")]
    pub root: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scenarios (all of scenarios/ by default) and report the matrix.
    Run(RunArgs),
    /// List scenarios, backends and what each backend can express.
    List {
        /// Scenario files or directories.
        paths: Vec<PathBuf>,
    },
    /// Run every scenario on every pair and write the catalog (docs/catalog.md by default).
    Catalog {
        /// Where to write it.
        #[arg(long, default_value = "docs/catalog.md")]
        output: PathBuf,
        /// Do not write: exit 1 if the file differs from what would be written.
        #[arg(long)]
        check: bool,
    },
    /// Write the run's certificates and keys as PEM files, for other tools (openssl s_server, curl, Java).
    PkiExport {
        /// Directory to write into.
        dir: PathBuf,
    },
    /// Check scenario files without running them.
    Validate {
        /// Scenario files or directories.
        paths: Vec<PathBuf>,
    },
}

/// Report formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Matrix for a terminal.
    Table,
    /// The versioned JSON contract.
    Json,
}

/// `tlsmatrix run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario files or directories (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Client backends, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub client: Vec<String>,
    /// Server backends, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub server: Vec<String>,
    /// Only scenarios whose id matches this glob (e.g. `seed::*`).
    #[arg(long)]
    pub filter: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report here instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Cells run at once (default: twice the CPU count; cells mostly wait on each other).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Per-cell deadline in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub timeout: u64,
}

/// Parses `std::env::args` and runs.
pub fn main() -> ExitCode {
    crate::backend::keep_system_trust_out();
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("tlsmatrix: {e}");
            ExitCode::from(2)
        }
    }
}

fn backends(names: &[String]) -> Result<Vec<BackendId>, Error> {
    if names.is_empty() {
        return Ok(BackendId::ALL.to_vec());
    }
    names.iter().map(|n| n.trim().parse::<BackendId>().map_err(Error::Usage)).collect()
}

/// Runs a parsed command line; returns the exit code.
pub fn execute(cli: Cli) -> Result<u8, Error> {
    let layout = Layout::at(&cli.root);
    match cli.command {
        Command::Run(args) => run(&layout, args),
        Command::Validate { paths } => {
            let (_, catalog) = layout.load(&paths)?;
            for e in &catalog.errors {
                eprintln!("{e}");
            }
            println!("{} scenarios valid, {} files with errors", catalog.scenarios.len(), catalog.errors.len());
            Ok(if catalog.errors.is_empty() { 0 } else { 2 })
        }
        Command::Catalog { output, check } => {
            let (report, scenarios) = full_run(&layout)?;
            let text = crate::report::catalog(&report, &scenarios);
            let path = if output.is_relative() { cli.root.join(&output) } else { output };
            if check {
                let current = std::fs::read_to_string(&path).unwrap_or_default();
                if current != text {
                    eprintln!("{} is stale: run `cargo run --release -- catalog`", path.display());
                    return Ok(1);
                }
                println!("{} is current", path.display());
            } else {
                std::fs::write(&path, &text).map_err(|source| Error::Write { path: path.clone(), source })?;
                println!("wrote {} ({} scenarios, {} cells)", path.display(), scenarios.len(), report.cells.len());
            }
            Ok(report.exit_code() as u8)
        }
        Command::PkiExport { dir } => {
            let pki = crate::Pki::load(&layout.pki, &layout.keys)?;
            let files = pki.export(&dir).map_err(|source| Error::Write { path: dir.clone(), source })?;
            println!("wrote {} files to {}", files.len(), dir.display());
            Ok(0)
        }
        Command::List { paths } => {
            let (_, catalog) = layout.load(&paths)?;
            let registry = Registry::all();
            let mut out = String::from("backends:\n");
            for b in registry.iter() {
                out.push_str(&format!("  {} ({})\n", b.id(), b.version()));
                for role in [Role::Client, Role::Server] {
                    let caps = b.capabilities(role);
                    let versions: Vec<String> = caps.versions.iter().map(|v| v.to_string()).collect();
                    out.push_str(&format!("    as {role}: versions {}", versions.join(" ")));
                    out.push_str(&format!(", {} suites, {} groups", caps.cipher_suites.len(), caps.groups.len()));
                    if caps.exact_alerts {
                        out.push_str(", sees alerts on the wire");
                    }
                    out.push('\n');
                    for (knob, why) in &caps.lacks {
                        out.push_str(&format!("      cannot set {}: {why}\n", knob.field()));
                    }
                }
            }
            out.push_str(&format!("scenarios ({}):\n", catalog.scenarios.len()));
            for s in &catalog.scenarios {
                out.push_str(&format!("  {:40} {}\n", s.id, s.description.lines().next().unwrap_or("")));
            }
            print!("{out}");
            for e in &catalog.errors {
                eprintln!("{e}");
            }
            Ok(if catalog.errors.is_empty() { 0 } else { 2 })
        }
    }
}

/// Every scenario on every pair, as the catalog shows them.
pub fn full_run(layout: &Layout) -> Result<(Report, Vec<crate::Scenario>), Error> {
    let (pki, catalog) = layout.load(&[])?;
    let scenarios: Vec<_> = catalog.scenarios.iter().cloned().map(Arc::new).collect();
    let registry = Arc::new(Registry::all());
    let ctx = Context { registry: registry.clone(), pki: Arc::new(pki), timeout: crate::runner::DEFAULT_TIMEOUT };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Socket)?;
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let results = rt.block_on(ctx.run_all(cells(&scenarios, &Selection::default()), jobs));
    let load_errors = catalog.errors.iter().map(|e| e.to_string()).collect();
    Ok((Report::new(Environment::of(&registry), results, load_errors), catalog.scenarios))
}

fn run(layout: &Layout, args: RunArgs) -> Result<u8, Error> {
    let sel = Selection { clients: backends(&args.client)?, servers: backends(&args.server)? };
    let glob = match &args.filter {
        Some(g) => Some(globset::Glob::new(g).map_err(|e| Error::Usage(format!("--filter: {e}")))?.compile_matcher()),
        None => None,
    };
    let (pki, catalog) = layout.load(&args.paths)?;
    let scenarios: Vec<_> = catalog
        .scenarios
        .into_iter()
        .filter(|s| glob.as_ref().is_none_or(|g| g.is_match(&s.id)))
        .map(Arc::new)
        .collect();
    let registry = Arc::new(Registry::all());
    let ctx = Context { registry: registry.clone(), pki: Arc::new(pki), timeout: Duration::from_millis(args.timeout) };
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() * 2));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Socket)?;
    let results = rt.block_on(ctx.run_all(cells(&scenarios, &sel), jobs));
    let load_errors = catalog.errors.iter().map(|e| e.to_string()).collect();
    let report = Report::new(Environment::of(&registry), results, load_errors);
    let text = match args.format {
        Format::Table => crate::report::table(&report),
        Format::Json => crate::report::json(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text).map_err(|source| Error::Write { path: path.clone(), source })?,
        None => {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
    Ok(report.exit_code() as u8)
}
