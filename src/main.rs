//! The `careshift` command line.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use careshift::diagnostics::{Diagnostic, Sources};
use careshift::model::Method;
use careshift::{Model, output};

#[derive(Parser)]
#[command(
    name = "careshift",
    version,
    about = "System-dynamics simulation for testing care-model investments",
    long_about = "careshift runs stock-and-flow models written as TOML files (see docs/MODEL_FORMAT.md).\n\n\
                  Examples:\n  careshift check models/examples/bathtub.toml\n  \
                  careshift run models/examples/bathtub.toml --csv -\n  \
                  careshift run models/examples/ageing_chain.toml --set fertility=0.02 --method rk4 --csv out.csv"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model once with its own settings and write every variable over time as CSV.
    ///
    /// The CSV has a `time` column, then one column per stock, flow, auxiliary and constant,
    /// named as in the model (array elements as `name[element]` or `name[e1,e2]`). A flow's
    /// value at time t is the rate used for the step that starts at t.
    Run {
        /// The model file (TOML).
        model: PathBuf,
        /// Where to write the CSV; `-` writes to standard output.
        #[arg(long, value_name = "PATH", default_value = "-")]
        csv: String,
        /// Override a constant: `--set name=value` or `--set "name[element]=value"`. Repeatable.
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
        sets: Vec<(String, f64)>,
        /// Integration method: euler, rk4 or dopri5.
        #[arg(long, value_parser = parse_method)]
        method: Option<Method>,
        /// Time step (for dopri5: the value of DT seen by equations).
        #[arg(long, allow_negative_numbers = true)]
        dt: Option<f64>,
        /// Final time.
        #[arg(long, allow_negative_numbers = true)]
        stop: Option<f64>,
        /// Output interval (a whole multiple of dt).
        #[arg(long, allow_negative_numbers = true)]
        save_step: Option<f64>,
    },
    /// Parse, compile and unit-check a model; print a summary. Exit code 1 on errors.
    Check {
        /// The model file (TOML).
        model: PathBuf,
        /// Also list every constant that can be set, with units, range and source.
        #[arg(long)]
        params: bool,
    },
}

fn parse_set(s: &str) -> Result<(String, f64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE (e.g. --set drain_time=4)"))?;
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a number (in --set {s})", value.trim()))?;
    if !value.is_finite() {
        return Err(format!("the value in --set {s} must be finite"));
    }
    Ok((name.trim().to_string(), value))
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::parse(s).ok_or_else(|| format!("unknown method `{s}`; use euler, rk4 or dopri5"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            model,
            csv,
            sets,
            method,
            dt,
            stop,
            save_step,
        } => run(&model, &csv, &sets, method, dt, stop, save_step),
        Command::Check { model, params } => check(&model, params),
    }
}

fn load(path: &Path) -> Result<Model, ExitCode> {
    Model::load(path).map_err(|failure| {
        eprint!("{}", failure.render());
        let n = failure.diagnostics.errors().count();
        eprintln!(
            "{} error{} in {}",
            n,
            if n == 1 { "" } else { "s" },
            path.display()
        );
        ExitCode::FAILURE
    })
}

fn print_warnings(warnings: &[Diagnostic], sources: &Sources) {
    for w in warnings {
        eprint!("{}", w.render(sources));
    }
}

fn fail(d: &Diagnostic, sources: &Sources) -> ExitCode {
    eprint!("{}", d.render(sources));
    ExitCode::FAILURE
}

#[allow(clippy::too_many_arguments)]
fn run(
    path: &Path,
    csv: &str,
    sets: &[(String, f64)],
    method: Option<Method>,
    dt: Option<f64>,
    stop: Option<f64>,
    save_step: Option<f64>,
) -> ExitCode {
    let model = match load(path) {
        Ok(m) => m,
        Err(code) => return code,
    };
    print_warnings(&model.warnings, &model.sources);
    let mut time = model.time().clone();
    if let Some(m) = method {
        time.method = m;
    }
    if let Some(dt) = dt {
        // A save step that was "every dt" follows the new dt.
        if time.save_step == time.dt && save_step.is_none() {
            time.save_step = dt;
        }
        time.dt = dt;
    }
    if let Some(stop) = stop {
        time.stop = stop;
    }
    if let Some(s) = save_step {
        time.save_step = s;
    }
    let overrides = match model.overrides(sets) {
        Ok(o) => o,
        Err(d) => return fail(&d, &model.sources),
    };
    let results = match model.run(&time, &overrides) {
        Ok(r) => r,
        Err(d) => return fail(&d, &model.sources),
    };
    print_warnings(&results.warnings, &model.sources);
    let text = output::csv_text(&results);
    if csv == "-" {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            eprintln!("error: cannot write to standard output: {e}");
            return ExitCode::FAILURE;
        }
    } else if let Err(e) = output::write_atomically(Path::new(csv), text.as_bytes()) {
        eprintln!(
            "error: cannot write `{csv}`: {e}\n   = help: check that the directory exists and is writable"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn check(path: &Path, list_params: bool) -> ExitCode {
    let model = match load(path) {
        Ok(m) => m,
        Err(code) => return code,
    };
    print_warnings(&model.warnings, &model.sources);
    let p = &model.program;
    let s = &p.summary;
    let t = &p.time;
    println!("model `{}` ({}): ok", model.name, path.display());
    println!(
        "  {} stocks, {} flows, {} auxiliaries, {} constants, {} lookups, {} modules",
        s.stocks, s.flows, s.auxiliaries, s.constants, s.lookups, s.modules
    );
    if !s.dimensions.is_empty() {
        let dims: Vec<String> = s
            .dimensions
            .iter()
            .map(|(n, k)| format!("{n} ({k})"))
            .collect();
        println!("  dimensions: {}", dims.join(", "));
    }
    println!(
        "  {} values per step ({} stock elements, {} of them hidden in SMOOTH/DELAY/TREND)",
        s.slots,
        p.stocks.len(),
        s.hidden_stocks
    );
    println!(
        "  time: {} to {} {}, dt {}, save every {}, method {}",
        t.start,
        t.stop,
        t.units,
        t.dt,
        t.save_step,
        t.method.name()
    );
    println!("  {} warning(s)", model.warnings.len());
    if list_params {
        println!("constants:");
        for param in &p.params {
            let default = param
                .default
                .map_or_else(|| "(equation)".to_string(), |v| v.to_string());
            let range = param
                .range
                .map_or_else(String::new, |(a, b)| format!(" range [{a}, {b}]"));
            let units = param.units.clone().unwrap_or_else(|| "?".into());
            let source = param
                .source
                .clone()
                .map_or_else(String::new, |s| format!(" — {s}"));
            let fixed = if param.fixed {
                " (fixed: a DELAYN order)"
            } else {
                ""
            };
            println!("  {} = {default} {units}{range}{fixed}{source}", param.name);
        }
    }
    ExitCode::SUCCESS
}
