//! The `careshift` command line.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use careshift::diagnostics::{Diagnostic, Sources};
use careshift::model::Method;
use careshift::xmile::export::Flavor;
use careshift::{Model, output};

#[derive(Parser)]
#[command(
    name = "careshift",
    version,
    about = "System-dynamics simulation for testing care-model investments",
    long_about = "careshift runs stock-and-flow models written as TOML files (see docs/MODEL_FORMAT.md).\n\n\
                  Examples:\n  careshift check models/examples/bathtub.toml\n  \
                  careshift run models/examples/bathtub.toml --csv -\n  \
                  careshift run models/examples/ageing_chain.toml --set birth_rate=0.02 --method rk4 --csv out.csv"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model once (CSV), or a scenario (Monte Carlo, options, reports in a directory).
    ///
    /// A model run writes a CSV with a `time` column, then one column per stock, flow,
    /// auxiliary and constant, named as in the model (array elements as `name[element]` or
    /// `name[e1,e2]`). A flow's value at time t is the rate used for the step that starts at t.
    ///
    /// A scenario file (one with a [scenario] table, see docs/SCENARIOS.md) runs its
    /// intervention and baseline over every Monte Carlo sample and option, and writes
    /// summary.json, series.csv, runs.csv, runs.parquet, report.html and charts/ into --out DIR.
    Run(RunArgs),
    /// Run two model variants on the same scenario and the same Monte Carlo sample, and report
    /// per metric each model's value, the run-by-run difference (B − A) and each model's run time.
    ///
    /// The scenario's names (parameters, interventions, metric variables) must exist in both
    /// models.
    Compare {
        /// Model A (TOML).
        model_a: PathBuf,
        /// Model B (TOML).
        model_b: PathBuf,
        /// The scenario to run on both (its own `model` is replaced by A and B).
        #[arg(long)]
        scenario: PathBuf,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Number of Monte Carlo runs, instead of the scenario's.
        #[arg(long)]
        runs: Option<usize>,
        /// Random seed, instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Also write the comparison as JSON to this file.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
    },
    /// Which uncertain parameters move a metric most: tornado (one at a time), Morris
    /// elementary effects or Sobol indices (docs/SENSITIVITY.md).
    ///
    /// Prints a table (parameter, importance, 95 % interval) and, with --out, writes the chart
    /// as SVG and PNG and the table as CSV. Same seed → same numbers, whatever --threads.
    Sensitivity(SensitivityArgs),
    /// Time a model's runs in-process (no output files): runs it --runs times with its own
    /// time settings and prints, as the last line on standard output, a JSON object with the
    /// median run time and runs per second.
    ///
    /// Given a scenario file, times its whole Monte Carlo instead (--runs runs, default the
    /// scenario's; --threads) without writing reports, and prints runs per second.
    Bench {
        /// The model file (TOML or XMILE), or a scenario file.
        model: PathBuf,
        /// Number of timed runs (model: after one untimed warm-up run; default 100).
        #[arg(long)]
        runs: Option<usize>,
        /// Scenario: worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Evaluate with the bytecode interpreter instead of native code (same numbers; to
        /// compare the two).
        #[arg(long)]
        interpreter: bool,
    },
    /// Write a model (TOML or XMILE) as an OASIS XMILE 1.0 file for Stella, PySD or Simlin.
    ///
    /// Modules are flattened (`frailty.onset_rate` becomes `frailty_onset_rate`), element names
    /// that are not identifiers are renamed (`0-64` becomes `age 0 64`, written `age_0_64` in equations), and builtins are mapped
    /// to XMILE's (docs/XMILE.md).
    Export {
        /// The model file.
        model: PathBuf,
        /// Where to write the XMILE file.
        #[arg(long, value_name = "PATH")]
        xmile: PathBuf,
        /// The reader: `xmile` (XMILE 1.0 as Stella and Simlin read it; the default) or `pysd`
        /// (PySD's reader, which wants `Dim!` where XMILE writes `*`).
        #[arg(long = "for", value_name = "READER", default_value = "xmile", value_parser = parse_flavor)]
        reader: Flavor,
    },
    /// Parse, compile and unit-check a model; print a summary. Exit code 1 on errors.
    Check {
        /// The model file (TOML or XMILE).
        model: PathBuf,
        /// Also list every constant that can be set, with units, range and source.
        #[arg(long)]
        params: bool,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The model or scenario file (TOML).
    file: PathBuf,
    /// Model: where to write the CSV; `-` (the default) writes to standard output.
    #[arg(long, value_name = "PATH")]
    csv: Option<String>,
    /// Model: override a constant: `--set name=value` or `--set "name[element]=value"`. Repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    sets: Vec<(String, f64)>,
    /// Model: integration method: euler, rk4 or dopri5.
    #[arg(long, value_parser = parse_method)]
    method: Option<Method>,
    /// Model: time step (for dopri5: the value of DT seen by equations).
    #[arg(long, allow_negative_numbers = true)]
    dt: Option<f64>,
    /// Model: final time.
    #[arg(long, allow_negative_numbers = true)]
    stop: Option<f64>,
    /// Model: output interval (a whole multiple of dt).
    #[arg(long, allow_negative_numbers = true)]
    save_step: Option<f64>,
    /// Scenario: the directory for summary.json, series.csv, runs.csv and runs.parquet.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Scenario: worker threads (default: every core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Scenario: number of Monte Carlo runs, instead of the file's.
    #[arg(long)]
    runs: Option<usize>,
    /// Scenario: random seed, instead of the file's.
    #[arg(long)]
    seed: Option<u64>,
    /// Scenario: also write every run's full time series (runs_series.csv; can be large).
    #[arg(long)]
    per_run_series: bool,
    /// Scenario: run even if the outputs are estimated not to fit on the disk.
    #[arg(long)]
    force: bool,
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

fn parse_sensitivity_method(s: &str) -> Result<careshift::sensitivity::Method, String> {
    careshift::sensitivity::Method::parse(s)
        .ok_or_else(|| format!("unknown method `{s}`; use tornado, morris or sobol"))
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::parse(s).ok_or_else(|| format!("unknown method `{s}`; use euler, rk4 or dopri5"))
}

fn main() -> ExitCode {
    // Behave like other Unix tools when the reader goes away (`careshift ... | head`): end
    // quietly on SIGPIPE instead of panicking on a failed write.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    careshift::allocator::keep_large_blocks_out_of_the_heap();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            if careshift::scenario::is_scenario_file(&args.file) {
                run_scenario(&args)
            } else {
                run_model(&args)
            }
        }
        Command::Check { model, params } => check(&model, params),
        Command::Sensitivity(args) => sensitivity(&args),
        Command::Bench {
            model,
            runs,
            threads,
            interpreter,
        } => bench(&model, runs, threads, interpreter),
        Command::Export {
            model,
            xmile,
            reader,
        } => export(&model, &xmile, reader),
        Command::Compare {
            model_a,
            model_b,
            scenario,
            threads,
            runs,
            seed,
            json,
        } => compare(
            &[model_a, model_b],
            &scenario,
            threads,
            runs,
            seed,
            json.as_deref(),
        ),
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

/// Load a scenario, printing its model's warnings; on failure print the errors.
fn load_scenario(path: &Path) -> Result<careshift::scenario::Scenario, ExitCode> {
    match careshift::scenario::load_scenario(path) {
        Ok(s) => {
            print_warnings(&s.model.warnings, &s.model.sources);
            Ok(s)
        }
        Err(failure) => {
            eprint!("{}", failure.render());
            let n = failure.diagnostics.errors().count();
            eprintln!(
                "{n} error{} in {}",
                if n == 1 { "" } else { "s" },
                path.display()
            );
            Err(ExitCode::FAILURE)
        }
    }
}

fn parse_flavor(s: &str) -> Result<Flavor, String> {
    match s.to_ascii_lowercase().as_str() {
        "xmile" | "stella" | "simlin" => Ok(Flavor::Standard),
        "pysd" => Ok(Flavor::Pysd),
        _ => Err(format!("unknown reader `{s}`: use xmile or pysd")),
    }
}

fn export(path: &Path, out: &Path, reader: Flavor) -> ExitCode {
    // Compiled first: only a model that runs is exported.
    let model = match load(path) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let (decl, _) = match careshift::load_decl(path, Sources::new()) {
        Ok(d) => d,
        Err(failure) => {
            eprint!("{}", failure.render());
            return ExitCode::FAILURE;
        }
    };
    let exported = match careshift::xmile::export::export_for(&decl, reader) {
        Ok(e) => e,
        Err(d) => return fail(&d, &model.sources),
    };
    print_warnings(&exported.notes, &model.sources);
    if let Err(e) = output::write_atomically(out, exported.xml.as_bytes()) {
        eprintln!(
            "error: cannot write `{}`: {e}\n   = help: check that the directory exists and is writable",
            out.display()
        );
        return ExitCode::FAILURE;
    }
    eprintln!("wrote {}", out.display());
    ExitCode::SUCCESS
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

fn run_model(args: &RunArgs) -> ExitCode {
    let (path, csv, sets) = (&args.file, args.csv.as_deref().unwrap_or("-"), &args.sets);
    let (method, dt, stop, save_step) = (args.method, args.dt, args.stop, args.save_step);
    // Loaded first, so that a file that is neither a scenario nor a valid model (missing, a
    // directory, a misspelt [scenario] table) is reported as such rather than as a model.
    let model = match load(path) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let scenario_only = [
        (args.out.is_some(), "--out"),
        (args.threads.is_some(), "--threads"),
        (args.runs.is_some(), "--runs"),
        (args.seed.is_some(), "--seed"),
        (args.per_run_series, "--per-run-series"),
        (args.force, "--force"),
    ];
    if let Some((_, flag)) = scenario_only.iter().find(|(given, _)| *given) {
        eprintln!(
            "error: {flag} applies to scenario files, but `{}` is a model\n   = help: a model run writes one CSV (--csv PATH); a scenario file has a [scenario] table",
            args.file.display()
        );
        return ExitCode::FAILURE;
    }
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

fn bench(path: &Path, runs: Option<usize>, threads: Option<usize>, interpreter: bool) -> ExitCode {
    for (value, flag) in [(threads, "--threads"), (runs, "--runs")] {
        if value == Some(0) {
            eprintln!("error: {flag} must be at least 1");
            return ExitCode::FAILURE;
        }
    }
    if careshift::scenario::is_scenario_file(path) {
        return bench_scenario(path, runs, threads, interpreter);
    }
    if threads.is_some() {
        eprintln!(
            "error: --threads applies to scenario files, but `{}` is a model\n   = help: a model's runs are timed one after another on one thread",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let mut model = match load(path) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if interpreter {
        model.program.use_interpreter();
    }
    match careshift::bench::bench(&model, runs.unwrap_or(100)) {
        Ok(report) => {
            eprintln!(
                "{}: {} runs of {} {} steps, median {:.3e} s per run",
                path.display(),
                report.runs,
                report.steps,
                report.method,
                report.median_run_s
            );
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(d) => fail(&d, &model.sources),
    }
}

fn bench_scenario(
    path: &Path,
    runs: Option<usize>,
    threads: Option<usize>,
    interpreter: bool,
) -> ExitCode {
    let mut scenario = match load_scenario(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if interpreter {
        scenario.model.program.use_interpreter();
    }
    if let Some(runs) = runs {
        scenario.uncertainty.runs = runs;
    }
    match careshift::bench::bench_scenario(&scenario, threads) {
        Ok(report) => {
            eprintln!(
                "{}: {} Monte Carlo runs × {} option(s) on {} thread(s) in {:.3} s",
                path.display(),
                report.runs,
                report.options,
                report.threads,
                report.elapsed_s
            );
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(d) => fail(&d, &scenario.model.sources),
    }
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

fn run_scenario(args: &RunArgs) -> ExitCode {
    let model_only = [
        (args.csv.is_some(), "--csv"),
        (!args.sets.is_empty(), "--set"),
        (args.method.is_some(), "--method"),
        (args.dt.is_some(), "--dt"),
        (args.stop.is_some(), "--stop"),
        (args.save_step.is_some(), "--save-step"),
    ];
    if let Some((_, flag)) = model_only.iter().find(|(given, _)| *given) {
        eprintln!(
            "error: {flag} applies to model files, but `{}` is a scenario\n   = help: set time and parameters in the scenario's [time] and [parameters] tables",
            args.file.display()
        );
        return ExitCode::FAILURE;
    }
    let Some(out_dir) = &args.out else {
        eprintln!(
            "error: a scenario writes several files: give the output directory with --out DIR\n   = help: e.g. careshift run {} --out results/",
            args.file.display()
        );
        return ExitCode::FAILURE;
    };
    for (value, flag) in [(args.threads, "--threads"), (args.runs, "--runs")] {
        if value == Some(0) {
            eprintln!("error: {flag} must be at least 1");
            return ExitCode::FAILURE;
        }
    }
    let mut scenario = match load_scenario(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(runs) = args.runs {
        scenario.uncertainty.runs = runs;
    }
    if let Some(seed) = args.seed {
        scenario.uncertainty.seed = seed;
    }
    let per_run = args.per_run_series.then(|| out_dir.join("runs_series.csv"));
    if let Err(d) =
        careshift::report::check_disk_space(out_dir, &scenario, per_run.is_some(), args.force)
    {
        return fail(&d, &scenario.model.sources);
    }
    if per_run.is_some()
        && let Err(e) = std::fs::create_dir_all(out_dir)
    {
        eprintln!("error: cannot create `{}`: {e}", out_dir.display());
        return ExitCode::FAILURE;
    }
    let settings = careshift::experiment::RunSettings {
        threads: args.threads,
        progress: true,
        per_run_series: per_run,
        spill_block_runs: None,
    };
    let outcome = match careshift::experiment::run(&scenario, &settings) {
        Ok(o) => o,
        Err(d) => return fail(&d, &scenario.model.sources),
    };
    print_warnings(&outcome.warnings, &scenario.model.sources);
    // The one-at-a-time tornado of the headline metric (2k + 1 runs) for the report.
    let tornado = match scenario.headline.metric {
        Some(metric) if !scenario.uncertainty.parameters.is_empty() => {
            match careshift::sensitivity::analyse(
                &scenario,
                metric,
                0,
                careshift::sensitivity::Method::Tornado,
                None,
                scenario.uncertainty.seed,
                args.threads,
            ) {
                Ok(a) => Some(a),
                // The Monte Carlo results stand without the tornado: report them, and say why
                // the chart is missing (e.g. a parameter's range end that the model cannot take).
                Err(d) => {
                    let w = careshift::diagnostics::Diagnostic {
                        severity: careshift::diagnostics::Severity::Warning,
                        message: format!("the tornado chart is left out of the report: {}", d.message),
                        ..d
                    }
                    .help("every other output is written; the tornado sets each parameter to the ends of its range, where this model fails");
                    print_warnings(std::slice::from_ref(&w), &scenario.model.sources);
                    None
                }
            }
        }
        _ => None,
    };
    let written =
        match careshift::report::write_reports(out_dir, &scenario, &outcome, tornado.as_ref()) {
            Ok(w) => w,
            Err(d) => return fail(&d, &scenario.model.sources),
        };
    if !args.per_run_series {
        // A per-run file from an earlier run would not match these results.
        let stale = out_dir.join("runs_series.csv");
        if stale.is_file() && std::fs::remove_file(&stale).is_ok() {
            eprintln!(
                "note: removed {} from an earlier run (use --per-run-series to write it)",
                stale.display()
            );
        }
    }
    match careshift::report::terminal_summary(&scenario, &outcome) {
        Ok(text) => print!("{text}"),
        Err(d) => return fail(&d, &scenario.model.sources),
    }
    let charts = written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .count();
    let names: Vec<String> = written
        .iter()
        .filter(|p| !p.parent().is_some_and(|d| d.ends_with("charts")))
        .map(|p| p.display().to_string())
        .collect();
    println!(
        "wrote {} and {charts} charts (SVG and PNG) in {}",
        names.join(", "),
        out_dir.join("charts").display()
    );
    ExitCode::SUCCESS
}

#[derive(clap::Args)]
struct SensitivityArgs {
    /// The scenario file (TOML); its [uncertainty.parameters] are the parameters analysed.
    scenario: PathBuf,
    /// The metric to explain (a [[metrics]] name of the scenario).
    #[arg(long)]
    metric: String,
    /// tornado (2k + 1 runs), morris (r·(k + 1) runs) or sobol (N·(k + 2) runs).
    #[arg(long, default_value = "tornado", value_parser = parse_sensitivity_method)]
    method: careshift::sensitivity::Method,
    /// Morris trajectories r (default 20) or Sobol base rows N (default 1024, at most 65536).
    #[arg(long)]
    samples: Option<usize>,
    /// Random seed of the design and the bootstrap (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Directory for the chart (SVG, PNG) and the table (CSV).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Worker threads (default: every core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Which option of a sweep to analyse (0-based, in the order of runs.csv; default 0).
    #[arg(long, default_value_t = 0)]
    option: usize,
}

fn sensitivity(args: &SensitivityArgs) -> ExitCode {
    use careshift::sensitivity::Method as M;
    if args.threads == Some(0) {
        eprintln!("error: --threads must be at least 1");
        return ExitCode::FAILURE;
    }
    if let Some(n) = args.samples {
        let (lo, hi, what) = match args.method {
            M::Tornado => (0, usize::MAX, ""),
            M::Morris => (2, 1_000_000, "Morris trajectories"),
            M::Sobol => (2, 65_536, "Sobol base rows (N)"),
        };
        if args.method == M::Tornado {
            eprintln!(
                "error: --samples does not apply to the tornado (it runs each parameter at its low and high value)\n   = help: use --method morris or --method sobol, or leave out --samples"
            );
            return ExitCode::FAILURE;
        }
        if n < lo || n > hi {
            eprintln!(
                "error: --samples {n}: the number of {what} must be between {lo} and {hi}\n   = help: e.g. --samples 20 for morris, --samples 1024 for sobol"
            );
            return ExitCode::FAILURE;
        }
    }
    let scenario = match load_scenario(&args.scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let names: Vec<&str> = scenario.metrics.iter().map(|m| m.name.as_str()).collect();
    let Some(metric) = names.iter().position(|n| *n == args.metric) else {
        let help = match careshift::diagnostics::did_you_mean(&args.metric, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if names.is_empty() => "the scenario declares no [[metrics]]".to_string(),
            None => format!("the metrics are: {}", names.join(", ")),
        };
        eprintln!(
            "error: --metric: scenario `{}` has no metric `{}`\n   = help: {help}",
            args.scenario.display(),
            args.metric
        );
        return ExitCode::FAILURE;
    };
    if scenario.uncertainty.parameters.is_empty() {
        eprintln!(
            "error: scenario `{}` has no uncertain parameters to analyse\n   = help: list the parameters to vary under [uncertainty.parameters]",
            args.scenario.display()
        );
        return ExitCode::FAILURE;
    }
    if args.method == M::Sobol && 2 * scenario.uncertainty.parameters.len() > 256 {
        eprintln!(
            "error: Sobol indices of {} parameters need a Sobol sequence in {} dimensions; at most 256 are supported\n   = help: use --method morris to screen them first",
            scenario.uncertainty.parameters.len(),
            2 * scenario.uncertainty.parameters.len()
        );
        return ExitCode::FAILURE;
    }
    if args.option >= scenario.option_count() {
        eprintln!(
            "error: --option {}: scenario `{}` has {} option(s), numbered from 0",
            args.option,
            args.scenario.display(),
            scenario.option_count()
        );
        return ExitCode::FAILURE;
    }
    let seed = args.seed.unwrap_or(scenario.uncertainty.seed);
    let analysis = match careshift::sensitivity::analyse(
        &scenario,
        metric,
        args.option,
        args.method,
        args.samples,
        seed,
        args.threads,
    ) {
        Ok(a) => a,
        Err(d) => return fail(&d, &scenario.model.sources),
    };
    print!("{}", careshift::sensitivity::table(&scenario, &analysis));
    if let Some(dir) = &args.out {
        let chart = match careshift::report_charts::sensitivity_chart(&scenario, &analysis) {
            Ok(c) => c,
            Err(d) => return fail(&d, &scenario.model.sources),
        };
        let mut written =
            match careshift::report::write_charts(dir, std::slice::from_ref(&chart), false) {
                Ok(w) => w,
                Err(d) => return fail(&d, &scenario.model.sources),
            };
        let csv_path = dir.join(format!("{}.csv", chart.name));
        let csv = careshift::sensitivity::csv(&scenario, &analysis);
        if let Err(e) = output::write_atomically(&csv_path, csv.as_bytes()) {
            eprintln!("error: cannot write `{}`: {e}", csv_path.display());
            return ExitCode::FAILURE;
        }
        written.push(csv_path);
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        println!("wrote {}", names.join(", "));
    }
    ExitCode::SUCCESS
}

fn compare(
    models: &[PathBuf; 2],
    scenario_path: &Path,
    threads: Option<usize>,
    runs: Option<usize>,
    seed: Option<u64>,
    json_path: Option<&Path>,
) -> ExitCode {
    if threads == Some(0) || runs == Some(0) {
        eprintln!("error: --threads and --runs must be at least 1");
        return ExitCode::FAILURE;
    }
    let mut loaded = Vec::new();
    for model in models {
        match careshift::scenario::load_scenario_for(scenario_path, Some(model)) {
            Ok(mut s) => {
                s.uncertainty.runs = runs.unwrap_or(s.uncertainty.runs);
                s.uncertainty.seed = seed.unwrap_or(s.uncertainty.seed);
                loaded.push(s);
            }
            Err(failure) => {
                eprint!("{}", failure.render());
                eprintln!(
                    "cannot run `{}` on model `{}`",
                    scenario_path.display(),
                    model.display()
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let settings = careshift::experiment::RunSettings {
        threads,
        progress: true,
        per_run_series: None,
        spill_block_runs: None,
    };
    let mut outcomes = Vec::new();
    for s in &loaded {
        match careshift::experiment::run(s, &settings) {
            Ok(o) => {
                print_warnings(&o.warnings, &s.model.sources);
                outcomes.push(o);
            }
            Err(d) => return fail(&d, &s.model.sources),
        }
    }
    let (text, doc) =
        match careshift::report::comparison((&loaded[0], &outcomes[0]), (&loaded[1], &outcomes[1]))
        {
            Ok(r) => r,
            Err(d) => return fail(&d, &loaded[0].model.sources),
        };
    if let Some(path) = json_path {
        let mut bytes = serde_json::to_string_pretty(&doc)
            .unwrap_or_default()
            .into_bytes();
        bytes.push(b'\n');
        if let Err(e) = output::write_atomically(path, &bytes) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    print!("{text}");
    ExitCode::SUCCESS
}
