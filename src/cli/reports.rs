//! `compat` and `impact`: the reports built around one server config (see [`crate::compat`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;

use super::{backends, load_one, progress, write_out};
use crate::compat;
use crate::plan::Selection;
use crate::report::Environment;
use crate::vocab::BackendId;
use crate::{Error, Layout, Scenario};

/// `compat` and `impact` formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompatFormat {
    /// A line per client, with the error, cause and fix under each failure.
    Table,
    /// A table for a pull request.
    Markdown,
    /// One object per client with its backend, library and version, and both sides' outcome.
    Json,
    /// One self-contained page.
    Html,
}

/// What `compat` and `impact` share: the server backend, the clients, and the report's form.
#[derive(clap::Args, Debug)]
pub struct ReportOn {
    /// The server backend that plays the config.
    #[arg(long, default_value = "openssl")]
    pub server: String,
    /// Client backends, comma-separated (default: every available one).
    #[arg(long, value_delimiter = ',')]
    pub client: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: CompatFormat,
    /// Write the report here instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// `tlsmatrix compat`.
#[derive(clap::Args, Debug)]
pub struct CompatArgs {
    /// The server config: a scenario id or file. Its `server:` block is the server; its `client:` block (trust,
    /// server name, versions) is what every client is configured with. With `--target`, only its `client:` block
    /// counts, and it may be left out (every client with its library's defaults).
    #[arg(required_unless_present = "target")]
    pub scenario: Option<String>,
    /// Server, clients, format, output.
    #[command(flatten)]
    pub on: ReportOn,
    /// A live server instead of a server backend.
    #[command(flatten)]
    pub live: LiveArgs,
}

/// `compat --target`: a server the user runs.
#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// A running server (HOST:PORT) to play every client against; only the client side is observed, the server's
    /// alerts are read from the recorded wire.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "server")]
    pub target: Option<String>,
    /// PEM file of CAs the clients trust (repeatable; every certificate in it). Replaces the scenario's `trust`.
    #[arg(long, value_name = "CA.pem", requires = "target")]
    pub trust: Vec<PathBuf>,
    /// The name the clients send as SNI and verify (default: the target's host, when it is a name).
    #[arg(long, requires = "target")]
    pub server_name: Option<String>,
    /// A client certificate chain (PEM, leaf first), for a server that asks for one.
    #[arg(long, value_name = "CERT.pem", requires_all = ["target", "client_key"])]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "KEY.pem", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

/// `tlsmatrix impact`.
#[derive(clap::Args, Debug)]
pub struct ImpactArgs {
    /// The server config before the change: a scenario id or file.
    pub old: String,
    /// The server config after the change.
    pub new: String,
    /// Server, clients, format, output.
    #[command(flatten)]
    pub on: ReportOn,
}

/// The clients a report is about: those named, or every judged backend that has a client role.
fn clients_of(run: &crate::Run, named: &[String]) -> Result<Vec<BackendId>, Error> {
    let all = backends(named)?;
    if !named.is_empty() {
        return Ok(all);
    }
    Ok(all.into_iter().filter(|b| run.registry().get(*b).is_none_or(|b| b.plays(crate::vocab::Role::Client))).collect())
}

/// Every selected client against `server` playing the scenario's server config (see [`crate::compat`]).
fn compat_report(layout: &Layout, id: &str, server: &str, client: &[String]) -> Result<compat::Compat, Error> {
    let server: BackendId = match backends(&[server.to_string()])?.as_slice() {
        [one] => *one,
        _ => return Err(Error::Usage(format!("--server names one backend, got `{server}`"))),
    };
    let (run, scenario) = load_one(layout, id)?;
    let sel = Selection { clients: clients_of(&run, client)?, servers: vec![server] };
    let planned = run.plan(&sel);
    let bar = progress(planned.len());
    let results = run.collect(planned, Some(bar.clone()))?;
    bar.finish_and_clear();
    let ctx = &run.context;
    let environment = Environment::of(run.registry());
    let library = |b: BackendId| {
        environment.backends.iter().find(|i| i.name == b.name()).map(|i| i.library.clone()).unwrap_or_default()
    };
    let rows = results
        .iter()
        .map(|r| {
            let findings = crate::explain::diagnose_with(&scenario, &ctx.pki, &ctx.registry, r);
            compat::Row::of(r, library(r.client), &findings)
        })
        .collect();
    Ok(compat::Compat {
        scenario: scenario.id.clone(),
        server: server.to_string(),
        live: false,
        server_library: library(server),
        environment: environment.clone(),
        rows,
    })
}

/// Every selected client against a live target (see [`crate::compat::Target`]).
fn live_report(layout: &Layout, args: &CompatArgs, address: &str) -> Result<compat::Compat, Error> {
    let target = compat::Target {
        address: address.to_string(),
        trust: args.live.trust.clone(),
        server_name: args.live.server_name.clone(),
        client_cert: args.live.client_cert.clone().zip(args.live.client_key.clone()),
    };
    let (run, mut scenario) = match &args.scenario {
        Some(id) => {
            let (run, s) = load_one(layout, id)?;
            (run, Scenario::clone(&s))
        }
        None => {
            let run = crate::Run::load(layout, &[], |_| false)?;
            let s = Scenario::parse("live-target".into(), Path::new("(compat --target)"), DEFAULTS, &run.pki().names())
                .map_err(|e| Error::Usage(e.to_string()))?;
            (run, s)
        }
    };
    let (pki, client) = target.prepare(run.pki(), &scenario.client)?;
    scenario.client = client;
    let ctx = crate::runner::Context { pki: Arc::new(pki), ..run.context.clone() };
    let clients = clients_of(&run, &args.on.client)?;
    let bar = progress(clients.len());
    let scenario = Arc::new(scenario);
    let played = crate::run::runtime()?.block_on(async {
        let gate = Arc::new(tokio::sync::Semaphore::new(run.jobs.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, &client) in clients.iter().enumerate() {
            let (ctx, scenario, gate, address) = (ctx.clone(), scenario.clone(), gate.clone(), address.to_string());
            tasks.spawn(async move {
                let _slot = gate.acquire_owned().await;
                (i, compat::play(&ctx, client, &scenario, &address).await)
            });
        }
        let mut out: Vec<Option<Result<compat::Played, compat::NotPlayed>>> = clients.iter().map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            bar.inc(1);
            match done {
                Ok((i, r)) => out[i] = Some(r),
                Err(e) => return Err(Error::Usage(format!("a client task failed: {e}"))),
            }
        }
        Ok(out)
    })?;
    bar.finish_and_clear();
    let environment = Environment::of(run.registry());
    let library = |b: BackendId| {
        environment.backends.iter().find(|i| i.name == b.name()).map(|i| i.library.clone()).unwrap_or_default()
    };
    let rows = clients
        .iter()
        .zip(played)
        .map(|(&c, p)| {
            let p = p.unwrap_or_else(|| Err(compat::NotPlayed::Fault("not played".into())));
            compat::Row::live(c, library(c), p)
        })
        .collect();
    Ok(compat::Compat {
        scenario: args.scenario.clone().unwrap_or_else(|| "library defaults".into()),
        server: address.to_string(),
        live: true,
        server_library: String::new(),
        environment: environment.clone(),
        rows,
    })
}

/// The client block of `compat --target` without a scenario: every library's defaults (the server block is a
/// placeholder the schema asks for; a live target plays the server).
const DEFAULTS: &str = "description: every client with its library's defaults against a live target\n\
                        server: { certificate: server-ec }\nclient: {}\nexpect: { result: success }\n";

pub(super) fn compat(layout: &Layout, args: CompatArgs) -> Result<u8, Error> {
    let on = &args.on;
    let report = match (&args.live.target, &args.scenario) {
        (Some(address), _) => live_report(layout, &args, address)?,
        (None, Some(id)) => compat_report(layout, id, &on.server, &on.client)?,
        (None, None) => return Err(Error::Usage("compat needs a scenario or --target HOST:PORT".into())),
    };
    let text = match on.format {
        CompatFormat::Table => compat::table(&report),
        CompatFormat::Markdown => compat::markdown(&report),
        CompatFormat::Json => serde_json::to_string_pretty(&report).map_err(|e| Error::Usage(e.to_string()))? + "\n",
        CompatFormat::Html => compat::html(&report),
    };
    write_out(on.output.as_deref(), &text)?;
    Ok(if report.rows.iter().any(|r| r.verdict == compat::Verdict::Error) { 2 } else { 0 })
}

pub(super) fn impact(layout: &Layout, args: ImpactArgs) -> Result<u8, Error> {
    let on = &args.on;
    let old = compat_report(layout, &args.old, &on.server, &on.client)?;
    let new = compat_report(layout, &args.new, &on.server, &on.client)?;
    let impact = compat::Impact::between(old, new);
    let text = match on.format {
        CompatFormat::Table => compat::impact_table(&impact),
        CompatFormat::Markdown => compat::impact_markdown(&impact),
        CompatFormat::Html => compat::impact_html(&impact),
        CompatFormat::Json => serde_json::to_string_pretty(&impact).map_err(|e| Error::Usage(e.to_string()))? + "\n",
    };
    write_out(on.output.as_deref(), &text)?;
    Ok(impact.exit_code())
}

/// `tlsmatrix try-client`.
#[derive(clap::Args, Debug)]
pub struct TryClientArgs {
    /// Server backends, comma-separated (default: every available one).
    #[arg(long, value_delimiter = ',')]
    pub server: Vec<String>,
    /// The scenario whose `server:` block every server plays, and whose `client:` block gives `{host}` (its
    /// `server_name`) and `{ca}` (its `trust`). Default: library defaults with an ECDSA certificate for localhost.
    #[arg(long)]
    pub scenario: Option<String>,
    /// Output format: table or json.
    #[arg(long, value_enum, default_value = "table")]
    pub format: TryFormat,
    /// Write the report here instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// The client command, run once per server: `{port}`, `{host}`, `{addr}` (127.0.0.1:PORT) and `{ca}` (a PEM
    /// file of the CAs to trust) are replaced in its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `try-client` formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TryFormat {
    /// A line per server.
    Table,
    /// One object per server.
    Json,
}

pub(super) fn try_client(layout: &Layout, args: TryClientArgs) -> Result<u8, Error> {
    use crate::try_client;
    let (run, scenario) = match &args.scenario {
        Some(id) => load_one(layout, id)?,
        None => {
            let run = crate::Run::load(layout, &[], |_| false)?;
            let s = Scenario::parse(
                "try-client".into(),
                Path::new("(try-client)"),
                try_client::DEFAULT_SERVER,
                &run.pki().names(),
            )
            .map_err(|e| Error::Usage(e.to_string()))?;
            (run, Arc::new(s))
        }
    };
    let servers: Vec<BackendId> = backends(&args.server)?
        .into_iter()
        .filter(|b| run.registry().get(*b).is_none_or(|b| b.plays(crate::vocab::Role::Server)))
        .collect();
    let ca_file = try_client::write_ca(&run.context, &scenario)?;
    let ca = ca_file.path.clone();
    let bar = progress(servers.len());
    let rows = crate::run::runtime()?.block_on(async {
        let gate = Arc::new(tokio::sync::Semaphore::new(run.jobs.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, &server) in servers.iter().enumerate() {
            let (ctx, scenario, gate, command, ca) =
                (run.context.clone(), scenario.clone(), gate.clone(), args.command.clone(), ca.clone());
            tasks.spawn(async move {
                let _slot = gate.acquire_owned().await;
                (i, try_client::try_one(&ctx, server, &scenario, &command, &ca).await)
            });
        }
        let mut rows: Vec<Option<try_client::Row>> = servers.iter().map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            bar.inc(1);
            let (i, row) = done.map_err(|e| Error::Usage(format!("a server task failed: {e}")))?;
            rows[i] = Some(row);
        }
        Ok::<_, Error>(rows.into_iter().flatten().collect())
    })?;
    bar.finish_and_clear();
    let report = try_client::Report { command: args.command.clone(), scenario: scenario.id.clone(), rows };
    let text = match args.format {
        TryFormat::Table => report.table(),
        TryFormat::Json => serde_json::to_string_pretty(&report).map_err(|e| Error::Usage(e.to_string()))? + "\n",
    };
    write_out(args.output.as_deref(), &text)?;
    Ok(if report.rows.iter().any(|r| r.seen == try_client::Seen::Error) { 2 } else { 0 })
}
