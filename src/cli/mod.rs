//! The command line (clap). Each subcommand loads, calls the library and maps the outcome to the documented exit
//! codes: 0 every cell matched, 1 a cell did not (or, with a baseline, behaviour changed), 2 bad input or a harness
//! fault.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

mod reports;
pub use self::reports::{CompatArgs, CompatFormat, ImpactArgs, LiveArgs, ReportOn, TryClientArgs, TryFormat};

use crate::Run;
use crate::backend::Registry;
use crate::plan::Selection;
use crate::report::{Diff, Environment, Report};
use crate::vocab::{BackendId, Role};
use crate::{Error, Layout, Scenario};

/// Runs TLS scenarios across backends as a client x server matrix.
#[derive(Parser, Debug)]
#[command(name = "tlsmatrix", version, about)]
pub struct Cli {
    /// Project root holding scenarios/ and fixtures/pki.yaml (the built-in certificates when it has none).
    #[arg(long, global = true, default_value = ".")]
    pub root: PathBuf,
    /// A PKI description to add to the certificates (repeatable); every pki.yaml among the scenarios is added too.
    #[arg(long, global = true, value_name = "FILE")]
    pub pki: Vec<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The files `tlsmatrix schema` describes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SchemaOf {
    /// Scenario files.
    Scenario,
    /// PKI descriptions (pki.yaml).
    Pki,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scenarios (all of scenarios/ by default) and report the matrix.
    Run(RunArgs),
    /// Run scenarios and show, per scenario, where the backends disagree as client and as server.
    Compare {
        /// Scenario files or directories (default: scenarios/).
        paths: Vec<PathBuf>,
        /// Only scenarios whose id matches this glob.
        #[arg(long)]
        filter: Option<String>,
        /// Client backends, comma-separated; `in-process` = openssl,native-tls,rustls; `jsse@*`, `node@*` a family's releases (default: all)
        #[arg(long, value_delimiter = ',')]
        client: Vec<String>,
        /// Server backends, comma-separated; `in-process` = openssl,native-tls,rustls; `jsse@*`, `node@*` a family's releases (default: all)
        #[arg(long, value_delimiter = ',')]
        server: Vec<String>,
    },
    /// Every client backend and release against one server config: which connect, with what, and for the others the
    /// alerts, the client's own error, the cause and the fix.
    Compat(CompatArgs),
    /// Which clients a server change breaks, fixes or renegotiates: compat for OLD and NEW, client by client; exit 1
    /// when a client that connected before fails now.
    Impact(ImpactArgs),
    /// Your own client command, run once against every server backend and release (`{port}`, `{host}`, `{addr}`,
    /// `{ca}` replaced): what each server saw, its version and suite, or the alert it received.
    TryClient(TryClientArgs),
    /// Turn server or client TLS settings as written elsewhere (nginx, Apache, haproxy directives, Java security
    /// properties, a Mozilla profile) into a scenario file, for `compat` or `run`. OpenSSL expands cipher strings.
    Import {
        /// Each a directive (`ssl_protocols TLSv1.2 TLSv1.3;`), a property (`jdk.tls.client.protocols=TLSv1.2`) or
        /// `mozilla:modern|intermediate|old`.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Write the scenario here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Run a scenario's cells and explain in plain language why each failing pair fails and how to fix it.
    Explain {
        /// A scenario id (`seed::untrusted_ca`) or file.
        scenario: String,
        /// Only these client backends (comma-separated).
        #[arg(long, value_delimiter = ',')]
        client: Vec<String>,
        /// Only these server backends (comma-separated).
        #[arg(long, value_delimiter = ',')]
        server: Vec<String>,
    },
    /// Compare two JSON reports: regressions, changed observations, fixes, new and removed cells.
    Diff {
        /// The older report (`run --format json --output old.json`).
        old: PathBuf,
        /// The newer report.
        new: PathBuf,
    },
    /// List scenarios, backends and what each backend can express.
    List {
        /// Scenario files or directories.
        paths: Vec<PathBuf>,
    },
    /// Check scenario files without running them.
    Validate {
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
    /// Print the JSON Schema of scenario files (committed as docs/scenario.schema.json for editors).
    Schema {
        /// Which files: `scenario` (docs/scenario.schema.json) or `pki`, PKI descriptions (pki.yaml,
        /// docs/pki.schema.json).
        #[arg(value_enum, default_value = "scenario")]
        of: SchemaOf,
    },
    /// Print which backend supports which scenario setting, as client and as server.
    Settings {
        /// Instead: print the README's scenario reference table (generated from the settings table).
        #[arg(long)]
        reference: bool,
    },
    /// Write a commented scenario skeleton to scenarios/CATEGORY/NAME.yaml.
    New {
        /// `category/name`.
        name: String,
    },
    /// Measure the harness against bare handshakes, catalog throughput, warm start and peak memory (use --release).
    Bench {
        /// Connections per measurement.
        #[arg(long, default_value_t = 200)]
        iterations: u32,
        /// Instead: run generated grids of about 100, 1,000 and 10,000 cells, streamed, and report the cost per cell
        /// and the peak memory after each (flat means nothing grows with the cell count).
        #[arg(long)]
        scale: bool,
        /// Only these client backends (comma-separated; external peers are measured against openssl).
        #[arg(long, value_delimiter = ',')]
        client: Vec<String>,
        /// Only these server backends (comma-separated; external peers are measured against openssl).
        #[arg(long, value_delimiter = ',')]
        server: Vec<String>,
    },
    /// Write the run's certificates and keys as PEM files, for other tools (openssl s_server, curl, Java).
    PkiExport {
        /// Directory to write into.
        dir: PathBuf,
    },
}

/// Report formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Matrix for a terminal (coloured on a TTY unless NO_COLOR is set).
    Table,
    /// The versioned JSON contract (docs/report-format.md).
    Json,
    /// For pull requests and CI summaries.
    Markdown,
    /// JUnit XML, one test case per cell.
    Junit,
    /// One self-contained HTML page with filters and per-cell details.
    Html,
    /// One JSON object per cell, written as each cell finishes (completion order) with nothing kept in memory: for
    /// very large runs. The summary goes to stderr.
    Jsonl,
}

/// `run --view`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ViewArg {
    /// One line per scenario (a single scenario: its grid).
    Summary,
    /// Scenarios by client>server pairs.
    Grid,
}

/// `tlsmatrix run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario files or directories (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Client backends, comma-separated; `in-process` = openssl,native-tls,rustls; `jsse@*`, `node@*` a family's releases (default: all)
    #[arg(long, value_delimiter = ',')]
    pub client: Vec<String>,
    /// Server backends, comma-separated; `in-process` = openssl,native-tls,rustls; `jsse@*`, `node@*` a family's releases (default: all)
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
    /// The table's layout: `summary`, one line per scenario with the pairs that deviate (a single scenario shows its
    /// client x server grid), or `grid`, every scenario by every client>server pair.
    #[arg(long, value_enum, default_value_t = ViewArg::Summary)]
    pub view: ViewArg,
    /// The table's width in columns (default: the terminal's, 100 when not a terminal).
    #[arg(long, value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
    /// Compare with an earlier JSON report and list what changed (exit 1 on a regression or changed observation).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Cells run at once (default: twice the CPU count; cells mostly wait on each other), 1 to 1024: each cell holds
    /// a few sockets, and more at once than the descriptor limit allows fails cells with "Too many open files".
    #[arg(long, value_parser = jobs_in_range)]
    pub jobs: Option<usize>,
    /// Per-cell deadline in milliseconds (three times this for cells with an external peer), 1 to 600000.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub timeout: u64,
    /// Run the selection N times and list every cell whose status or observation varied (exit 1 if any did); the
    /// report shows the last run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Show every cell's wire transcript (what each side sent, decrypted where a key log allows) in the table;
    /// failing cells always show theirs, and the JSON report always carries them.
    #[arg(long)]
    pub transcript: bool,
    /// Run only shard K of N (`--shard 2/4`): every N-th cell starting at the K-th, in the catalog's stable order,
    /// so N CI machines together run every cell exactly once.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Write one pcapng file per cell into DIR, with the cell's TLS secrets embedded (Wireshark decrypts it as is).
    #[arg(long, value_name = "DIR")]
    pub pcap: Option<PathBuf>,
}

/// `--jobs`: 1 to 1024.
fn jobs_in_range(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=1024) => Ok(n),
        _ => Err(format!("`{s}`: expected a number of cells from 1 to 1024")),
    }
}

/// How a matrix is run.
#[derive(Clone, Debug, Default)]
struct RunOptions {
    jobs: Option<usize>,
    timeout: Option<Duration>,
    pcap: Option<Arc<PathBuf>>,
    shard: Option<Shard>,
    stream: Option<Arc<Stream>>,
    /// Where streamed results are also compared across `--repeat` runs.
    stability: Option<Arc<std::sync::Mutex<crate::report::Stability>>>,
}

/// One shard of a run: the K-th of N (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which one, from 1.
    pub index: usize,
    /// How many.
    pub count: usize,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("`{s}`: expected K/N with 1 <= K <= N, e.g. 2/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if index == 0 || count == 0 || index > count {
        return Err(bad());
    }
    Ok(Shard { index, count })
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
    let mut ids: Vec<BackendId> = Vec::new();
    for n in names {
        let group: Vec<BackendId> = match n.trim() {
            "all" => BackendId::ALL.to_vec(),
            "in-process" => BackendId::IN_PROCESS.to_vec(),
            // `jsse@*`: every release of a family, the bare one (the system's) first.
            family if family.ends_with("@*") => {
                let f = family.trim_end_matches("@*").parse::<BackendId>().map_err(|e| Error::Usage(e.to_string()))?;
                f.releases().collect()
            }
            one => {
                vec![one.parse::<BackendId>().map_err(|e| {
                    Error::Usage(format!("{e} (or `all`, `in-process`, a family's releases: `jsse@*`)"))
                })?]
            }
        };
        for id in group {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

fn glob(filter: Option<&str>) -> Result<Option<globset::GlobMatcher>, Error> {
    filter
        .map(|g| globset::Glob::new(g).map(|g| g.compile_matcher()).map_err(|e| Error::Usage(format!("--filter: {e}"))))
        .transpose()
}

fn write_out(output: Option<&Path>, text: &str) -> Result<(), Error> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|source| Error::Write { path: path.to_path_buf(), source }),
        None => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(())
        }
    }
}

/// Runs a parsed command line; returns the exit code.
pub fn execute(cli: Cli) -> Result<u8, Error> {
    let layout = cli.pki.iter().fold(Layout::at(&cli.root), |l, f| l.with_pki(f.clone()));
    match cli.command {
        Command::Run(args) => run(&layout, args),
        Command::Compare { paths, filter, client, server } => {
            let matcher = glob(filter.as_deref())?;
            let sel = Selection { clients: backends(&client)?, servers: backends(&server)? };
            let (report, _) = matrix(&layout, &paths, matcher.as_ref(), &sel, &RunOptions::default())?;
            print!("{}", crate::report::compare(&report));
            for e in &report.load_errors {
                eprintln!("{e}");
            }
            Ok(if report.exit_code() == 2 { 2 } else { 0 })
        }
        Command::Explain { scenario, client, server } => explain(&layout, &scenario, &client, &server),
        Command::Compat(args) => reports::compat(&layout, args),
        Command::Import { inputs, output } => {
            let imported = crate::scenario::import::import(&inputs).map_err(|e| Error::Usage(e.to_string()))?;
            write_out(output.as_deref(), &crate::scenario::import::scenario_yaml(&inputs, &imported))?;
            Ok(0)
        }
        Command::Impact(args) => reports::impact(&layout, args),
        Command::TryClient(args) => reports::try_client(&layout, args),
        Command::Diff { old, new } => {
            let diff = Diff::between(&Report::load(&old)?, &Report::load(&new)?);
            print!("{}", diff.render());
            Ok(diff.exit_code())
        }
        Command::Validate { paths } => {
            let catalog = layout.check(&paths)?;
            for e in &catalog.errors {
                eprintln!("{e}");
            }
            println!("{} scenarios valid, {} files with errors", catalog.scenarios.len(), catalog.errors.len());
            Ok(if catalog.errors.is_empty() { 0 } else { 2 })
        }
        Command::Catalog { output, check } => {
            let (report, scenarios) = full_run(&layout)?;
            let path = if output.is_relative() { cli.root.join(&output) } else { output };
            let data_path = path.with_extension("json");
            let fresh = crate::report::CatalogData::of(&report);
            if check {
                let registry = Registry::all();
                let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
                let checked =
                    crate::report::CatalogData::check(&fresh, &scenarios, &read(&data_path), &read(&path), |e| {
                        registry.runs(e.client, e.server)
                    });
                if let Err(why) = checked {
                    eprintln!("{}: {why}", path.display());
                    return Ok(1);
                }
                println!("{} is current for every cell this machine can run", path.display());
            } else {
                let text = crate::report::catalog(&fresh, &scenarios);
                std::fs::write(&path, &text).map_err(|source| Error::Write { path: path.clone(), source })?;
                std::fs::write(&data_path, fresh.to_json())
                    .map_err(|source| Error::Write { path: data_path.clone(), source })?;
                println!(
                    "wrote {} and {} ({} scenarios, {} cells)",
                    path.display(),
                    data_path.display(),
                    scenarios.len(),
                    report.cells.len()
                );
            }
            Ok(report.exit_code() as u8)
        }
        Command::Schema { of } => {
            print!(
                "{}",
                match of {
                    SchemaOf::Scenario => crate::scenario::json_schema(),
                    SchemaOf::Pki => crate::pki::json_schema(),
                }
            );
            Ok(0)
        }
        Command::Settings { reference } => {
            if reference {
                print!("{}", crate::settings::reference_table());
            } else {
                print!("{}", Registry::all().settings_table());
            }
            Ok(0)
        }
        Command::New { name } => {
            let path = crate::catalog::write_skeleton(&layout.scenarios, &name)?;
            println!("wrote {}", path.display());
            Ok(0)
        }
        Command::Bench { iterations, scale, client, server } => {
            if scale {
                crate::bench::scale(&layout, &mut std::io::stdout())?;
            } else {
                // Every backend by default: the linked-in pairs against their bare libraries, the external peers
                // against openssl (bench::run says which pairs it measures).
                let pairs = crate::plan::Selection { clients: backends(&client)?, servers: backends(&server)? };
                crate::bench::run(&layout, iterations.max(1), &pairs, &mut std::io::stdout())?;
            }
            Ok(0)
        }
        Command::PkiExport { dir } => {
            let pki = crate::Pki::load_sources(&layout.pki_for(&[]))?;
            let files = pki.export(&dir).map_err(|source| Error::Write { path: dir.clone(), source })?;
            println!("wrote {} files to {}", files.len(), dir.display());
            Ok(0)
        }
        Command::List { paths } => list(&layout, &paths),
    }
}

fn list(layout: &Layout, paths: &[PathBuf]) -> Result<u8, Error> {
    let (_, catalog) = layout.load(paths)?;
    let registry = Registry::all();
    let mut out = String::from("backends:\n");
    for b in registry.iter() {
        let default = if BackendId::IN_PROCESS.contains(&b.id()) { "linked in" } else { "external peer" };
        // Capabilities first: an adapter backend probes its runtime for them, and the probe also reads its version
        // (python3 and node print theirs then, without an adapter process).
        let _ = b.capabilities(Role::Client);
        out.push_str(&format!("  {} ({}) [{default}]\n", b.id(), b.version()));
        for role in [Role::Client, Role::Server] {
            let caps = b.capabilities(role);
            if let Some(why) = &caps.unavailable {
                out.push_str(&format!("    as {role}: UNAVAILABLE: {why}\n"));
                continue;
            }
            let versions: Vec<String> = caps.versions.iter().map(|v| v.to_string()).collect();
            out.push_str(&format!("    as {role}: versions {}", versions.join(" ")));
            out.push_str(&format!(", {} suites, {} groups", caps.cipher_suites.len(), caps.groups.len()));
            if caps.exact_alerts {
                out.push_str(", sees alerts on the wire");
            }
            out.push('\n');
            for (knob, why) in caps.settings.lacking() {
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

/// A progress bar on stderr when it is a terminal and the run is long enough to want one; hidden otherwise.
fn progress(cells: usize) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() || cells < 50 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(cells as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cells {elapsed}") {
        bar.set_style(style);
    }
    bar
}

/// Loads, plans and runs; returns the report and the scenarios it covered.
fn matrix(
    layout: &Layout,
    paths: &[PathBuf],
    filter: Option<&globset::GlobMatcher>,
    sel: &Selection,
    options: &RunOptions,
) -> Result<(Report, Vec<Scenario>), Error> {
    let RunOptions { jobs, timeout, pcap, shard, .. } = options.clone();
    crate::interrupt::catch_early();
    let mut run = Run::load(layout, paths, |s| filter.is_none_or(|g| g.is_match(&s.id)))?;
    if run.scenarios.is_empty() && run.load_errors.is_empty() {
        return Err(Error::Usage(
            "no scenario matches (check --filter and the paths; `tlsmatrix list` shows the ids)".into(),
        ));
    }
    run.interruptible = true;
    run.context.timeout = timeout.unwrap_or(crate::runner::DEFAULT_TIMEOUT);
    run.context.pcap = pcap;
    if let Some(jobs) = jobs {
        run = run.with_jobs(jobs);
    }
    for note in &run.notes {
        eprintln!("tlsmatrix: {note}");
    }
    let mut todo = run.plan(sel);
    if let Some(Shard { index, count }) = shard {
        todo = todo.into_iter().skip(index - 1).step_by(count).collect();
    }
    let load_errors: Vec<String> = run.load_errors.iter().map(|e| e.to_string()).collect();
    let scenarios: Vec<Scenario> = run.scenarios.iter().map(|s| Scenario::clone(s)).collect();
    let env = Environment::of(run.registry());
    if let Some(out) = options.stream.as_deref() {
        // Streamed: each result is written the moment it is done and dropped, so memory does not grow with the
        // number of cells; only the counts are kept.
        let mut sink: Box<dyn Write> = match out {
            Stream::Stdout => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            Stream::File(path, append) => {
                let mut open = std::fs::OpenOptions::new();
                open.write(true).create(true);
                if *append {
                    open.append(true)
                } else {
                    open.truncate(true)
                };
                let file = open.open(path).map_err(|source| Error::Write { path: path.clone(), source })?;
                Box::new(std::io::BufWriter::new(file))
            }
        };
        let mut counts = crate::report::Summary::default();
        run.stream(todo, |r| {
            counts.add(r.status);
            if let Some(s) = &options.stability {
                s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add(&r);
            }
            let _ = serde_json::to_writer(&mut sink, &r).map(|()| sink.write_all(b"\n"));
        })?;
        let _ = sink.flush();
        eprintln!("{counts}");
        for e in &load_errors {
            eprintln!("{e}");
        }
        let report = Report::new(env, Vec::new(), load_errors).with_summary(counts);
        return Ok((report, scenarios));
    }
    let bar = progress(todo.len());
    let results = run.collect(todo, Some(bar.clone()))?;
    bar.finish_and_clear();
    Ok((Report::new(env, results, load_errors), scenarios))
}

/// Where streamed results go.
#[derive(Clone, Debug)]
enum Stream {
    Stdout,
    /// The file, and whether to append to it (the second and later runs of `--repeat`).
    File(PathBuf, bool),
}

/// Every scenario on every pair, as the catalog shows them.
pub fn full_run(layout: &Layout) -> Result<(Report, Vec<Scenario>), Error> {
    matrix(layout, &[], None, &Selection::default(), &RunOptions::default())
}

fn run(layout: &Layout, args: RunArgs) -> Result<u8, Error> {
    let sel = Selection { clients: backends(&args.client)?, servers: backends(&args.server)? };
    let matcher = glob(args.filter.as_deref())?;
    let baseline = args.baseline.as_deref().map(Report::load).transpose()?;
    let timeout = Duration::from_millis(args.timeout);
    let pcap = match &args.pcap {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::Usage(format!("--pcap {}: {e}", dir.display())))?;
            Some(Arc::new(dir.clone()))
        }
        None => None,
    };
    let mut runs = Vec::new();
    // A streamed run keeps no cells, so repeated streamed runs compare what each cell did as it passes.
    let stability = Arc::new(std::sync::Mutex::new(crate::report::Stability::default()));
    for i in 0..args.repeat {
        let stream = matches!(args.format, Format::Jsonl)
            .then(|| Arc::new(args.output.as_ref().map_or(Stream::Stdout, |p| Stream::File(p.clone(), i > 0))));
        let options = RunOptions {
            jobs: args.jobs,
            timeout: Some(timeout),
            pcap: pcap.clone(),
            shard: args.shard,
            stream,
            stability: Some(stability.clone()),
        };
        runs.push(matrix(layout, &args.paths, matcher.as_ref(), &sel, &options)?.0);
        if crate::interrupt::requested().is_some() {
            break;
        }
    }
    let streamed = matches!(args.format, Format::Jsonl);
    let (unstable, seen) = if streamed {
        let s = std::mem::take(&mut *stability.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let n = s.cells();
        (s.unstable(), n)
    } else {
        (crate::report::unstable(&runs), runs.last().map_or(0, |r| r.cells.len()))
    };
    let report = runs.pop().expect("at least one run");
    // NO_COLOR (no-color.org): any non-empty value turns colour off.
    let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let colour = args.output.is_none() && std::io::stdout().is_terminal() && !no_colour;
    let text = match args.format {
        Format::Table => {
            let on_terminal = args.output.is_none() && std::io::stdout().is_terminal();
            let width = args.width.map(usize::from).unwrap_or_else(|| {
                if on_terminal { crate::report::terminal_width() } else { crate::report::table::DEFAULT_WIDTH }
            });
            let view = match args.view {
                ViewArg::Summary => crate::report::View::Summary,
                ViewArg::Grid => crate::report::View::Grid,
            };
            let options = crate::report::TableOptions { colour, transcripts: args.transcript, view, width };
            crate::report::table_opts(&report, &options)
        }
        Format::Json => crate::report::json(&report),
        Format::Markdown => crate::report::markdown(&report),
        Format::Junit => crate::report::junit(&report),
        Format::Html => crate::report::html(&report),
        Format::Jsonl => String::new(),
    };
    if !matches!(args.format, Format::Jsonl) {
        write_out(args.output.as_deref(), &text)?;
    }
    if args.output.is_some() || !matches!(args.format, Format::Table) {
        // The table lists them itself; other formats and files would leave a terminal user with a bare exit 2.
        for e in &report.load_errors {
            eprintln!("{e}");
        }
    }
    let mut code = report.exit_code() as u8;
    if args.repeat > 1 {
        eprintln!("{} runs of {seen} cells: {} cells varied", args.repeat, unstable.len());
        for (cell, outcomes) in &unstable {
            eprintln!("  {cell}: {}", outcomes.join(" | "));
        }
        if !unstable.is_empty() && code == 0 {
            code = 1;
        }
    }
    if let Some(old) = baseline {
        // A subset run (paths, --filter, --client, --server) is compared with the same subset of the baseline.
        let ran: std::collections::BTreeSet<&str> = report.cells.iter().map(|c| c.scenario.as_str()).collect();
        let subset = !args.paths.is_empty() || args.filter.is_some();
        let diff = Diff::between(&old, &report).restricted(|scenario, client, server| {
            (!subset || ran.contains(scenario)) && sel.clients.contains(&client) && sel.servers.contains(&server)
        });
        eprint!("{}", diff.render());
        if code != 2 {
            code = code.max(diff.exit_code());
        }
    }
    if let Some(stopped) = crate::interrupt::exit_code() {
        // A partial run is not a verdict: the code says it was stopped, after every completed cell was reported.
        eprintln!(
            "tlsmatrix: stopped by a signal after {} completed cells; exit {stopped}",
            report.summary.pass + report.summary.fail + report.summary.unsupported + report.summary.error
        );
        code = stopped;
    }
    Ok(code)
}

/// One scenario by id or file, loaded alone; a file that does not load says why.
fn load_one(layout: &Layout, id: &str) -> Result<(Run, Arc<Scenario>), Error> {
    let as_path = PathBuf::from(id);
    let paths = if as_path.is_file() { vec![as_path] } else { Vec::new() };
    let single = paths.len() == 1;
    let mut run = Run::load(layout, &paths, |s| single || s.id == id)?;
    run.scenarios.truncate(1);
    let Some(scenario) = run.scenarios.first().cloned() else {
        // The file named (or the one whose id this is) did not load: say why, not only that it is missing.
        let own = run
            .load_errors
            .iter()
            .position(|e| single || crate::catalog::scenario_id(&layout.scenarios, &e.path) == id);
        if let Some(i) = own {
            return Err(Error::Load(run.load_errors.swap_remove(i)));
        }
        return Err(Error::Usage(format!(
            "no scenario `{id}`: expected an id such as seed::untrusted_ca (see `tlsmatrix list`) or a file"
        )));
    };
    Ok((run, scenario))
}

fn explain(layout: &Layout, id: &str, client: &[String], server: &[String]) -> Result<u8, Error> {
    let sel = Selection { clients: backends(client)?, servers: backends(server)? };
    let (run, scenario) = load_one(layout, id)?;
    let results = run.collect(run.plan(&sel), None)?;
    let ctx = &run.context;
    let mut out = format!("{}\n{}\n\n", scenario.id, scenario.description.trim());
    for r in &results {
        out.push_str(&format!("{} [{}]: {}\n", r.name(), r.status, crate::report::outcome(r)));
        if r.status == crate::expect::Status::Unsupported {
            out.push_str(&format!("  cannot run: {}\n\n", r.reason.as_deref().unwrap_or("")));
            continue;
        }
        for m in &r.mismatches {
            out.push_str(&format!("  does not match the scenario: {m}\n"));
        }
        let findings = crate::explain::diagnose_with(&scenario, &ctx.pki, &ctx.registry, r);
        if findings.is_empty() {
            out.push_str("  connected: no failure to diagnose\n");
        }
        for f in findings {
            out.push_str(&format!("  cause: {}\n  evidence: {}\n  fix: {}\n", f.cause, f.detail, f.fix));
        }
        out.push('\n');
    }
    write_out(None, &out)?;
    let status = |s| results.iter().any(|r| r.status == s);
    Ok(if status(crate::expect::Status::Error) {
        2
    } else if status(crate::expect::Status::Fail) {
        1
    } else {
        0
    })
}
