//! `compat` and `impact`: the reports built around one server config (see [`crate::compat`]).

use std::path::PathBuf;

use clap::ValueEnum;

use super::{backends, load_one, progress, write_out};
use crate::compat;
use crate::plan::Selection;
use crate::report::Environment;
use crate::vocab::BackendId;
use crate::{Error, Layout};

/// `compat` and `impact` formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompatFormat {
    /// A line per client, with the error, cause and fix under each failure.
    Table,
    /// A table for a pull request.
    Markdown,
    /// One object per client with its backend, library and version, and both sides' outcome.
    Json,
    /// One self-contained page (`impact`: Markdown).
    Html,
}

/// What `compat` and `impact` share: the server backend, the clients, and the report's form.
#[derive(clap::Args, Debug)]
pub struct ReportOn {
    /// The server backend that plays the config.
    #[arg(long, default_value = "openssl")]
    pub server: String,
    /// Client backends, comma-separated (default: every available one; `node@*` and other preview ones by name).
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
    /// server name, versions) is what every client is configured with.
    pub scenario: String,
    /// Server, clients, format, output.
    #[command(flatten)]
    pub on: ReportOn,
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

/// Every selected client against `server` playing the scenario's server config (see [`crate::compat`]).
fn compat_report(layout: &Layout, id: &str, server: &str, client: &[String]) -> Result<compat::Compat, Error> {
    let server: BackendId = match backends(&[server.to_string()])?.as_slice() {
        [one] => *one,
        _ => return Err(Error::Usage(format!("--server names one backend, got `{server}`"))),
    };
    let (run, scenario) = load_one(layout, id)?;
    let sel = Selection { clients: backends(client)?, servers: vec![server] };
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
        server,
        server_library: library(server),
        environment: environment.clone(),
        rows,
    })
}

pub(super) fn compat(layout: &Layout, args: CompatArgs) -> Result<u8, Error> {
    let on = &args.on;
    let report = compat_report(layout, &args.scenario, &on.server, &on.client)?;
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
        CompatFormat::Markdown | CompatFormat::Html => compat::impact_markdown(&impact),
        CompatFormat::Json => serde_json::to_string_pretty(&impact).map_err(|e| Error::Usage(e.to_string()))? + "\n",
    };
    write_out(on.output.as_deref(), &text)?;
    Ok(impact.exit_code())
}
