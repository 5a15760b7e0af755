//! Running a scenario: Monte Carlo × options × {intervention, baseline}, in parallel and
//! reproducibly.
//!
//! - Run i's parameter sample depends only on (seed, i) (see [`crate::montecarlo::Sampler`]), and
//!   both arms of run i use it (common random numbers), so a difference is never sampling noise.
//! - Runs are computed in batches on a rayon pool; each batch's outputs are folded into the
//!   aggregates **in run order**, so 1 thread and N threads give bit-identical results.
//! - Memory is flat in the number of runs: time series are summarised by streaming
//!   percentiles (per option × arm × variable × time), and the per-run scalars (samples,
//!   metrics, test outcomes) go to a [`RunStore`] that spills them to a temporary file and
//!   gives them back one column at a time.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::analysis::column_stats::ColumnStats;
use crate::analysis::metrics as m;
use crate::diagnostics::Diagnostic;
use crate::montecarlo::Sampler;
use crate::run_store::{DEFAULT_BLOCK_RUNS, RunStore};
use crate::scenario::expr::MetricExpr;
use crate::scenario::{Arm, LeverTarget, Metric, MetricKind, Scenario};
use crate::simulate::{Results, ScheduleSet, Simulator};
use crate::vm::LANES;

/// How to run (not what: that is the scenario).
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// Worker threads (None: all cores).
    pub threads: Option<usize>,
    /// Draw a progress bar on a terminal for work longer than about a second.
    pub progress: bool,
    /// Also write every run's full time series to this file (CSV).
    pub per_run_series: Option<std::path::PathBuf>,
    /// Runs whose per-run scalars are held in memory before they are spilled to a temporary
    /// file ([`RunStore`]); None: [`DEFAULT_BLOCK_RUNS`]. The results are the same whatever
    /// the value.
    pub spill_block_runs: Option<usize>,
}

/// Everything the reports need.
#[derive(Debug)]
pub struct Outcome {
    pub times: Vec<f64>,
    /// Names of the aggregated output variables (series.csv).
    pub output_names: Vec<String>,
    /// Every run's sampled values (the value given to each uncertain parameter's first slot),
    /// metrics and test outcomes; read them with [`Outcome::column`].
    runs: RunStore,
    /// Metrics and assumption tests per option (the store's layout).
    n_metrics: usize,
    n_tests: usize,
    n_samples: usize,
    pub options: Vec<OptionOutcome>,
    pub warnings: Vec<Diagnostic>,
    pub elapsed: Duration,
    pub threads: usize,
}

#[derive(Debug)]
pub struct OptionOutcome {
    pub lever_values: Vec<f64>,
    /// The series statistics, in the columns given by [`OptionOutcome::series_index`].
    pub series: ColumnStats,
    /// The statistics per saved time of the cumulative discounted value of the scenario's
    /// cumulative metric ([`crate::scenario::Headline::cumulative`]); no columns when there
    /// is none.
    pub cumulative: ColumnStats,
}

pub const ARMS: [Arm; 3] = [Arm::Intervention, Arm::Baseline, Arm::Difference];

/// One per-run value across runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunColumn {
    /// Uncertain parameter k's sampled value.
    Sample(usize),
    /// Metric k of option o: `Metric(o, k)`.
    Metric(usize, usize),
    /// Whether assumption test k of option o holds (1) or not (0): `Test(o, k)`.
    Test(usize, usize),
}

impl Outcome {
    /// Number of Monte Carlo runs.
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// The values of `column` for the runs in `runs`, in run order.
    pub fn column_range(
        &self,
        column: RunColumn,
        runs: std::ops::Range<usize>,
    ) -> Result<Vec<f64>, Diagnostic> {
        let per_option = self.n_metrics + self.n_tests;
        let index = match column {
            RunColumn::Sample(k) => k,
            RunColumn::Metric(o, k) => self.n_samples + o * per_option + k,
            RunColumn::Test(o, k) => self.n_samples + o * per_option + self.n_metrics + k,
        };
        self.runs.column(index, runs).map_err(|e| {
            Diagnostic::error(format!(
                "cannot read back the per-run results from their temporary file: {e}"
            ))
            .help("check the free space and health of the temporary directory (TMPDIR)")
        })
    }

    /// The values of `column` for every run, in run order.
    pub fn column(&self, column: RunColumn) -> Result<Vec<f64>, Diagnostic> {
        self.column_range(column, 0..self.run_count())
    }

    /// Whether assumption test k of option o holds, run by run.
    pub fn test_outcomes(&self, o: usize, k: usize) -> Result<Vec<bool>, Diagnostic> {
        Ok(self
            .column(RunColumn::Test(o, k))?
            .into_iter()
            .map(|v| v != 0.0)
            .collect())
    }
}

impl OptionOutcome {
    /// Index of (arm, output variable, time) in `series`.
    pub fn series_index(
        arm: usize,
        output: usize,
        time: usize,
        n_outputs: usize,
        n_times: usize,
    ) -> usize {
        (arm * n_outputs + output) * n_times + time
    }
}

/// One run's results for every option.
struct RunOutput {
    samples: Vec<f64>,
    options: Vec<OptionRun>,
}

/// One run of one option.
struct OptionRun {
    metrics: Vec<f64>,
    tests: Vec<bool>,
    /// [arm][output][time] values.
    series: Vec<f64>,
    /// The cumulative discounted series of the cumulative metric (empty without one).
    cumulative: Vec<f64>,
}

/// Run the scenario.
pub fn run(scenario: &Scenario, settings: &RunSettings) -> Result<Outcome, Diagnostic> {
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.threads.unwrap_or(0))
        .build()
        .map_err(|e| Diagnostic::error(format!("cannot start worker threads: {e}")))?;
    let threads = pool.current_num_threads();
    let plan = Plan::new(scenario)?;
    let runs = scenario.uncertainty.runs;
    let n_opts = plan.option_schedules.len();
    let simulation_phase = crate::allocator::SimulationPhase::begin();

    // Run 0 goes first, on its own: it tells the time grid and surfaces warnings (e.g. dt too
    // large) once; its results are folded in like every other run's.
    let (first, times, warnings) = plan.run_one(scenario, 0)?;
    let n_times = times.len();
    let n_out = scenario.outputs.len();
    let n_cumulative = if scenario.headline.cumulative.is_some() {
        n_times
    } else {
        0
    };
    let keep = exact_quantile_capacity(n_opts * (3 * n_out * n_times + n_cumulative)).min(runs);
    let mut options: Vec<OptionOutcome> = (0..n_opts)
        .map(|o| OptionOutcome {
            lever_values: scenario.option_values(o),
            series: ColumnStats::new(3 * n_out * n_times, keep),
            cumulative: ColumnStats::new(n_cumulative, keep),
        })
        .collect();
    let (n_samples, n_metrics, n_tests) = (
        scenario.uncertainty.parameters.len(),
        scenario.metrics.len(),
        scenario.assumptions.len(),
    );
    let width = n_samples + n_opts * (n_metrics + n_tests);
    let block_runs = settings.spill_block_runs.unwrap_or(DEFAULT_BLOCK_RUNS);
    check_temporary_space(runs, width, block_runs)?;
    check_run_count(runs)?;
    let mut store = RunStore::new(width, block_runs);
    let mut record = Vec::with_capacity(n_samples + n_opts * (n_metrics + n_tests));
    let mut per_run = match &settings.per_run_series {
        Some(path) => Some(PerRunWriter::create(path, scenario)?),
        None => None,
    };

    let progress = Progress::new(runs as u64, settings.progress);
    // Consecutive runs from `first` on, in run order: their scalars to the store (and their
    // series, formatted on the pool, to the per-run file) one run after the other, their
    // series into the streaming statistics (in parallel over statistics, each statistic in
    // run order: `fold_series`).
    let mut absorb = |first: usize, outs: &[RunOutput]| -> Result<(), Diagnostic> {
        for (c, chunk) in outs.chunks(PER_RUN_TEXT_RUNS).enumerate() {
            let chunk_first = first + c * PER_RUN_TEXT_RUNS;
            let texts: Vec<String> = if per_run.is_some() {
                chunk
                    .par_iter()
                    .enumerate()
                    .map(|(k, out)| {
                        PerRunWriter::run_text(chunk_first + k, out, n_out, n_times, &times)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            for (k, out) in chunk.iter().enumerate() {
                if let Some(w) = per_run.as_mut() {
                    w.write(texts[k].as_bytes())?;
                }
                record.clear();
                record.extend_from_slice(&out.samples);
                for run in &out.options {
                    record.extend_from_slice(&run.metrics);
                    record.extend(run.tests.iter().map(|&t| f64::from(u8::from(t))));
                }
                store.push(&record).map_err(|e| {
                    Diagnostic::error(format!(
                        "cannot keep the per-run results in a temporary file: {e}"
                    ))
                    .help(
                        "free space in the temporary directory, or point TMPDIR at a disk with room",
                    )
                })?;
            }
        }
        fold_series(&mut options, outs);
        Ok(())
    };
    absorb(0, std::slice::from_ref(&first))?;
    drop(first);
    // Rounds of work for the pool: groups of LANES runs (each simulated as one batch), a few
    // groups per thread. Each round is folded in run order while the next one is computed, so
    // the fold does not leave the other threads waiting. The round ends at a barrier
    // where a thread may wait for up to one group: 12 groups per thread make that wait small,
    // and a round's outputs (a few dozen runs' series) stay small whatever the run count.
    // (With 4 lanes, 48 groups per thread measured the same: care_investment_options, 2,000
    // runs, 3 interleaved sets, 2 threads vs 1: 1.93× with 12, 1.92× with 48.)
    let round = threads * 12 * LANES;
    type Computed = Vec<Result<Vec<RunOutput>, Diagnostic>>;
    let mut computed: Option<(usize, Computed)> = None;
    let mut next = 1;
    loop {
        let end = (next + round).min(runs);
        let compute = || -> Computed {
            (next..end)
                .step_by(LANES)
                .collect::<Vec<usize>>()
                .into_par_iter()
                .map(|first| plan.run_batch(scenario, first, LANES.min(end - first)))
                .collect()
        };
        let fold = || -> Result<(), Diagnostic> {
            let Some((first, outputs)) = computed.take() else {
                return Ok(());
            };
            // The round's runs up to its first failure, which is then the run's error (after
            // the runs before it, as a run-by-run loop would meet it).
            let mut outs = Vec::with_capacity(round);
            let mut failure = None;
            for group in outputs {
                match group {
                    Ok(group) => outs.extend(group),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            absorb(first, &outs)?;
            if let Some(e) = failure {
                return Err(e);
            }
            progress.set((first + outs.len()) as u64, started);
            Ok(())
        };
        let (outputs, folded) = pool.install(|| rayon::join(compute, fold));
        folded?;
        if next >= runs {
            break;
        }
        computed = Some((next, outputs));
        next = end;
    }
    progress.finish();
    if let Some(w) = per_run {
        w.finish()?;
    }
    // The kept values of exact percentiles are not needed any more: summarised and freed
    // before the reports (whose own peak would otherwise sit on top of them).
    pool.install(|| {
        for o in &mut options {
            o.series.settle();
            o.cumulative.settle();
        }
    });
    // The rounds' freed results would otherwise stay resident under the reports.
    drop(simulation_phase);
    crate::allocator::return_free_memory();
    Ok(Outcome {
        times,
        output_names: scenario
            .outputs
            .iter()
            .map(|&c| scenario.model.program.columns[c].name.clone())
            .collect(),
        runs: store,
        n_metrics,
        n_tests,
        n_samples,
        options,
        warnings,
        elapsed: started.elapsed(),
        threads,
    })
}

/// Runs whose `--per-run-series` text is formatted at once (in parallel) before it is written:
/// bounds that text's memory (a run's lines are about 13 KB per option on the care model)
/// whatever the number of threads.
const PER_RUN_TEXT_RUNS: usize = 64;

/// The most runs whose values the series statistics keep, for exact percentiles
/// ([`ColumnStats`]); past it they are P² estimates.
pub const EXACT_QUANTILE_RUNS: usize = 1000;

/// The memory the kept values of all series statistics may take, in bytes.
const EXACT_QUANTILE_BYTES: usize = 16 << 20;

/// How many values each of `statistics` series statistics keeps for exact percentiles: up to
/// [`EXACT_QUANTILE_RUNS`], fewer when that many would not fit in [`EXACT_QUANTILE_BYTES`]
/// (sweeps of many options). A Monte Carlo of at most that many runs gets exact percentiles,
/// and pushing a value costs a store instead of five P² updates (care scenario, 400 runs:
/// 0.30 M instructions per run less, 0.25 M with the percentiles computed at the end;
/// docs/design/engine-performance.md). The memory is the same
/// whatever the number of runs beyond it (the kept values are freed when P² takes over).
pub fn exact_quantile_capacity(statistics: usize) -> usize {
    let fits = EXACT_QUANTILE_BYTES / (std::mem::size_of::<f64>() * statistics.max(1));
    fits.min(EXACT_QUANTILE_RUNS)
}

/// Folds consecutive runs' series into the options' statistics, in run order
/// ([`ColumnStats::extend`]: the result does not depend on how runs are grouped into rounds,
/// nor on the number of threads).
fn fold_series(options: &mut [OptionOutcome], runs: &[RunOutput]) {
    for (o, opt) in options.iter_mut().enumerate() {
        let rows: Vec<&[f64]> = runs.iter().map(|r| &r.options[o].series[..]).collect();
        opt.series.extend(&rows);
        let rows: Vec<&[f64]> = runs.iter().map(|r| &r.options[o].cumulative[..]).collect();
        opt.cumulative.extend(&rows);
    }
}

/// Every metric of option `option` for each given point of the uncertain parameters (values,
/// in the order of `scenario.uncertainty.parameters`), computed in parallel; `result[p][k]` is
/// metric k at point p. The same points give the same values whatever the thread count.
/// This is how sensitivity analyses run the model at designed points.
pub fn evaluate_points(
    scenario: &Scenario,
    option: usize,
    points: &[Vec<f64>],
    threads: Option<usize>,
) -> Result<Vec<Vec<f64>>, Diagnostic> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| Diagnostic::error(format!("cannot start worker threads: {e}")))?;
    let plan = Plan::new(scenario)?;
    let simulation_phase = crate::allocator::SimulationPhase::begin();
    let results: Vec<Result<Vec<f64>, Diagnostic>> = pool.install(|| {
        points
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                let overrides = Plan::sample_overrides(scenario, p);
                let (mut out, _, _) =
                    plan.run_sampled(scenario, i, p.clone(), &overrides, option..option + 1)?;
                Ok(out.options.swap_remove(0).metrics)
            })
            .collect()
    });
    drop(simulation_phase);
    crate::allocator::return_free_memory();
    results.into_iter().collect()
}

/// An error, before the Monte Carlo, when there are more runs than the reports can index: they
/// order runs by u32 indices (4 bytes per run of working memory, docs/design/engine-performance.md).
fn check_run_count(runs: usize) -> Result<(), Diagnostic> {
    if u32::try_from(runs).is_err() {
        return Err(Diagnostic::error(format!(
            "too many runs: {runs}; a scenario runs at most {} times",
            u32::MAX
        ))
        .help("use fewer runs (--runs or [uncertainty] runs)"));
    }
    Ok(())
}

/// An error, before the first run, when the run store of `runs` records of `width` values
/// cannot fit in the free space of the temporary directory (even with `--force`: the run
/// could only fail once the disk is full).
fn check_temporary_space(runs: usize, width: usize, block_runs: usize) -> Result<(), Diagnostic> {
    let temp = std::env::temp_dir();
    let needed = runs as f64 * width as f64 * 8.0;
    match crate::output::available_space(&temp) {
        Some(free) if runs > block_runs && needed > free as f64 => Err(Diagnostic::error(format!(
            "not enough temporary space to keep the per-run results of {runs} runs: about {:.1} GB needed, {:.1} GB free under `{}`",
            needed / 1e9,
            free as f64 / 1e9,
            temp.display()
        ))
        .help("use fewer runs (--runs), or point TMPDIR at a disk with room")),
        _ => Ok(()),
    }
}

/// One run's sampled values and the overrides they make.
type Sample = (Vec<f64>, Vec<(u32, f64)>);

/// What every run needs, prepared once.
struct Plan<'s> {
    /// The model prepared once for every run.
    simulator: Simulator<'s>,
    sampler: Sampler,
    baseline_schedules: ScheduleSet,
    option_schedules: Vec<ScheduleSet>,
    /// Per option: parameter-lever overrides (both arms).
    option_overrides: Vec<Vec<(u32, f64)>>,
    /// Baseline results do not depend on the option (no parameter levers): run it once.
    shared_baseline: bool,
    /// The metrics prepared for the first evaluated run's saved times ([`Plan::metric_plan`]).
    metric_plan: OnceLock<MetricPlan>,
}

impl<'s> Plan<'s> {
    fn new(s: &'s Scenario) -> Result<Plan<'s>, Diagnostic> {
        let u = &s.uncertainty;
        let sampler =
            Sampler::new(u.sampling, u.seed, u.runs, u.parameters.len()).map_err(|e| {
                Diagnostic::error(format!("cannot sample the uncertain parameters: {e}"))
            })?;
        let program = &s.model.program;
        let baseline_schedules = ScheduleSet::new(
            program,
            s.baseline
                .interventions
                .iter()
                .flat_map(|i| i.schedules(i.scale, i.shift))
                .collect(),
        );
        let mut option_schedules = Vec::new();
        let mut option_overrides = Vec::new();
        for o in 0..s.option_count() {
            let values = s.option_values(o);
            let mut scale: Vec<f64> = s.interventions.iter().map(|i| i.scale).collect();
            let mut shift: Vec<f64> = s.interventions.iter().map(|i| i.shift).collect();
            let mut overrides = Vec::new();
            for (lever, &v) in s.levers.iter().zip(&values) {
                match &lever.target {
                    LeverTarget::Parameter(slots) => {
                        overrides.extend(slots.iter().map(|&slot| (slot, v)))
                    }
                    LeverTarget::Scale(i) => scale[*i] = v,
                    LeverTarget::Shift(i) => shift[*i] = v,
                }
            }
            let schedules = s
                .interventions
                .iter()
                .enumerate()
                .flat_map(|(k, i)| i.schedules(scale[k], shift[k]))
                .collect();
            option_schedules.push(ScheduleSet::new(program, schedules));
            option_overrides.push(overrides);
        }
        let shared_baseline = !s
            .levers
            .iter()
            .any(|l| matches!(l.target, LeverTarget::Parameter(_)));
        Ok(Plan {
            simulator: s.model.simulator(),
            sampler,
            baseline_schedules,
            option_schedules,
            option_overrides,
            shared_baseline,
            metric_plan: OnceLock::new(),
        })
    }

    /// The metrics prepared for a run that saved `times`: those prepared for the first
    /// evaluated run, since every run of a scenario saves the same times, or, should a run's
    /// times differ, prepared for them.
    fn metric_plan(&self, s: &Scenario, times: &[f64]) -> Cow<'_, MetricPlan> {
        let plan = self.metric_plan.get_or_init(|| MetricPlan::new(s, times));
        if plan.is_for(times) {
            Cow::Borrowed(plan)
        } else {
            Cow::Owned(MetricPlan::new(s, times))
        }
    }

    /// Run i's sampled values (one per uncertain parameter) and the overrides they make.
    fn sample(&self, s: &Scenario, i: usize) -> Sample {
        let u = &s.uncertainty;
        let mut point = vec![0.0; u.parameters.len()];
        self.sampler.point(i, &mut point);
        let sampled: Vec<f64> = u
            .parameters
            .iter()
            .zip(&point)
            .map(|(p, &x)| p.distribution.quantile(x))
            .collect();
        let overrides = Self::sample_overrides(s, &sampled);
        (sampled, overrides)
    }

    /// The overrides that sampled values (one per uncertain parameter) make.
    fn sample_overrides(s: &Scenario, sampled: &[f64]) -> Vec<(u32, f64)> {
        let parameters = &s.uncertainty.parameters;
        let mut overrides = Vec::with_capacity(parameters.iter().map(|p| p.slots.len()).sum());
        for (p, &v) in parameters.iter().zip(sampled) {
            overrides.extend(p.slots.iter().map(|&slot| (slot, v)));
        }
        overrides
    }

    /// The overrides of one arm of run i for option `option`.
    fn arm_overrides(
        &self,
        s: &Scenario,
        arm: Arm,
        option: usize,
        sample: &[(u32, f64)],
    ) -> Vec<(u32, f64)> {
        let fixed = if arm == Arm::Baseline && s.baseline.label != "model" {
            &s.baseline.fixed
        } else {
            &s.fixed
        };
        let option = &self.option_overrides[option];
        let mut overrides = Vec::with_capacity(fixed.len() + sample.len() + option.len());
        overrides.extend_from_slice(fixed);
        overrides.extend_from_slice(sample);
        overrides.extend_from_slice(option);
        overrides
    }

    /// A failed run's error, saying which run, option and arm, with its sampled values.
    fn describe(
        s: &Scenario,
        i: usize,
        sampled: &[f64],
        e: Diagnostic,
        arm: &str,
        o: usize,
    ) -> Diagnostic {
        let mut what = format!("run {i}");
        if s.option_count() > 1 {
            what.push_str(&format!(", option {o}"));
        }
        if !sampled.is_empty() {
            let vals: Vec<String> = s
                .uncertainty
                .parameters
                .iter()
                .zip(sampled)
                .map(|(p, v)| format!("{} = {v}", p.name))
                .collect();
            what.push_str(&format!(" with {}", vals.join(", ")));
        }
        Diagnostic {
            message: format!("{} ({arm} arm, {what})", e.message),
            ..e
        }
    }

    /// Run i for every option. Also returns the time grid and the first run's warnings.
    fn run_one(
        &self,
        s: &Scenario,
        i: usize,
    ) -> Result<(RunOutput, Vec<f64>, Vec<Diagnostic>), Diagnostic> {
        let (sampled, sample_overrides) = self.sample(s, i);
        self.run_sampled(
            s,
            i,
            sampled,
            &sample_overrides,
            0..self.option_schedules.len(),
        )
    }

    /// Run `i` with the uncertain parameters at `sampled` (making `sample_overrides`), for the
    /// given options.
    fn run_sampled(
        &self,
        s: &Scenario,
        i: usize,
        sampled: Vec<f64>,
        sample_overrides: &[(u32, f64)],
        option_range: std::ops::Range<usize>,
    ) -> Result<(RunOutput, Vec<f64>, Vec<Diagnostic>), Diagnostic> {
        let mut warnings = Vec::new();
        let mut run_arm = |arm: Arm, option: usize, sched: &ScheduleSet| {
            let overrides = self.arm_overrides(s, arm, option, sample_overrides);
            let r = (self.simulator.run(&s.time, &overrides, sched))
                .map_err(|e| Self::describe(s, i, &sampled, e, arm.name(), option))?;
            if i == 0 {
                warnings.extend(r.warnings.iter().cloned());
            }
            Ok::<Results, Diagnostic>(r)
        };
        let mut shared: Option<Results> = None;
        let mut options = Vec::with_capacity(self.option_schedules.len());
        let mut times = Vec::new();
        let mut scratch = Vec::new();
        for o in option_range {
            let sched = &self.option_schedules[o];
            let baseline = match shared.take() {
                Some(b) if self.shared_baseline => b,
                _ => run_arm(Arm::Baseline, o, &self.baseline_schedules)?,
            };
            let intervention = run_arm(Arm::Intervention, o, sched)?;
            times.clone_from(&intervention.times);
            let metric_plan = self.metric_plan(s, &intervention.times);
            options.push(evaluate(
                s,
                &metric_plan,
                &intervention,
                &baseline,
                &mut scratch,
            ));
            shared = Some(baseline);
        }
        Ok((
            RunOutput {
                samples: sampled,
                options,
            },
            times,
            warnings,
        ))
    }

    /// Runs `first..first + count` (at most [`LANES`]) for every option, each arm simulated for
    /// all of them at once ([`Simulator::run_batch`]); the same outputs as [`Plan::run_one`] on
    /// each.
    fn run_batch(
        &self,
        s: &Scenario,
        first: usize,
        count: usize,
    ) -> Result<Vec<RunOutput>, Diagnostic> {
        let samples: Vec<Sample> = (first..first + count).map(|i| self.sample(s, i)).collect();
        let overrides = |arm: Arm, option: usize| -> Vec<Vec<(u32, f64)>> {
            samples
                .iter()
                .map(|(_, sample)| self.arm_overrides(s, arm, option, sample))
                .collect()
        };
        // arms[option] = (baselines, interventions), one result per run.
        type Arms = (
            Vec<Result<Results, Diagnostic>>,
            Vec<Result<Results, Diagnostic>>,
        );
        let mut arms: Vec<Arms> = Vec::with_capacity(self.option_schedules.len());
        for (o, sched) in self.option_schedules.iter().enumerate() {
            let intervention = overrides(Arm::Intervention, o);
            if self.shared_baseline && o > 0 {
                let interventions = self.simulator.run_batch(&s.time, &intervention, sched);
                arms.push((Vec::new(), interventions)); // option 0's baselines
                continue;
            }
            let baseline = overrides(Arm::Baseline, o);
            if baseline == intervention {
                // The same overrides: the arms share their initial phase when they can.
                let schedules = [&self.baseline_schedules, sched];
                let [b, i] = <[_; 2]>::try_from(self.simulator.run_batch_arms(
                    &s.time,
                    &intervention,
                    &schedules,
                ))
                .expect("one result vector per arm");
                arms.push((b, i));
            } else {
                arms.push((
                    self.simulator
                        .run_batch(&s.time, &baseline, &self.baseline_schedules),
                    self.simulator.run_batch(&s.time, &intervention, sched),
                ));
            }
        }
        // In run order, then option and arm order: the error a run-by-run loop meets first.
        let mut outputs = Vec::with_capacity(count);
        let mut scratch = Vec::new();
        for (l, (sampled, _)) in samples.into_iter().enumerate() {
            let mut options = Vec::with_capacity(arms.len());
            for (o, (baselines, interventions)) in arms.iter().enumerate() {
                let baseline = if baselines.is_empty() {
                    &arms[0].0[l]
                } else {
                    &baselines[l]
                };
                let fail = |e: &Diagnostic, arm: Arm| {
                    Self::describe(s, first + l, &sampled, e.clone(), arm.name(), o)
                };
                let b = baseline.as_ref().map_err(|e| fail(e, Arm::Baseline))?;
                let a = interventions[l]
                    .as_ref()
                    .map_err(|e| fail(e, Arm::Intervention))?;
                let metric_plan = self.metric_plan(s, &a.times);
                options.push(evaluate(s, &metric_plan, a, b, &mut scratch));
            }
            outputs.push(RunOutput {
                samples: sampled,
                options,
            });
        }
        Ok(outputs)
    }
}

/// Metrics, tests, the aggregated series values and the cumulative series of one run of one
/// option. `plan` is the metric plan for the run's saved times ([`Plan::metric_plan`]);
/// `scratch` holds the metrics' variables' values.
fn evaluate(
    s: &Scenario,
    plan: &MetricPlan,
    intervention: &Results,
    baseline: &Results,
    scratch: &mut Vec<f64>,
) -> OptionRun {
    let n_times = intervention.times.len();
    let (a, b) = (Rows::of(intervention), Rows::of(baseline));
    plan.variable_values(a, b, scratch);
    let mut metrics = Vec::with_capacity(s.metrics.len());
    let mut cumulative = Vec::new();
    for (k, prepared) in plan.metrics.iter().enumerate() {
        let x = match prepared {
            PreparedMetric::Variable { variable, metric } => {
                let v = &scratch[variable * n_times..(variable + 1) * n_times];
                let values = m::Values::new(&intervention.times, v);
                match &plan.cumulative {
                    Some((c, acc)) if *c == k => {
                        cumulative = cumulative_series(acc, &values, n_times);
                        variable_metric(metric, values, Some(&cumulative))
                    }
                    _ => variable_metric(metric, values, None),
                }
            }
            PreparedMetric::Roi { savings, cost } => m::roi(metrics[*savings], metrics[*cost]),
            PreparedMetric::Expression(e) => e.eval(&metrics),
        };
        metrics.push(x);
    }
    let tests = s
        .assumptions
        .iter()
        .map(|a| {
            let v = a.expr.eval(&metrics);
            v != 0.0 && !v.is_nan()
        })
        .collect();
    OptionRun {
        metrics,
        tests,
        series: output_series(&s.outputs, a, b),
        cumulative,
    }
}

/// A metric of a variable: NaN where the plain function would fail (the metric does not suit the
/// saved times, or a value is not finite), a break-even year of infinity where it never breaks
/// even. `cumulative` is the metric's cumulative series when it is the headline's.
fn variable_metric(
    metric: &Result<VariableMetric, String>,
    values: Result<m::Values, String>,
    cumulative: Option<&[f64]>,
) -> f64 {
    let (Ok(metric), Ok(v)) = (metric, values) else {
        return f64::NAN;
    };
    match metric {
        VariableMetric::Value(p) => p.eval(v),
        VariableMetric::Sum(p) => p.eval(v),
        VariableMetric::Integral(p) => p.eval(v),
        VariableMetric::BreakEven(p) => {
            // A break-even metric's cumulative series is its own accumulation (prepared for
            // the same start, rate and base): the crossing is read from it, not accumulated
            // again.
            let year = match cumulative {
                Some(c) => p.break_even_of(c),
                None => p.break_even(v),
            };
            year.unwrap_or(f64::INFINITY)
        }
    }
}

/// The headline's cumulative series of one run: NaN throughout where the plain function would
/// fail.
fn cumulative_series(
    acc: &Result<m::Accumulation, String>,
    values: &Result<m::Values, String>,
    n_times: usize,
) -> Vec<f64> {
    match (acc, values) {
        (Ok(acc), Ok(v)) => {
            let mut c = Vec::with_capacity(n_times);
            acc.cumulative(*v, &mut c);
            c
        }
        _ => vec![f64::NAN; n_times],
    }
}

/// The aggregated outputs' values of one run, `[arm][output][time]`: the intervention's and
/// the baseline's copied out of their results, then their difference, computed from those
/// copies a block at a time.
fn output_series(outputs: &[usize], intervention: Rows, baseline: Rows) -> Vec<f64> {
    // The layout below follows `ARMS`.
    const _: () = assert!(matches!(
        ARMS,
        [Arm::Intervention, Arm::Baseline, Arm::Difference]
    ));
    let block = outputs.len() * intervention.len();
    let mut series = Vec::with_capacity(3 * block);
    for arm in [intervention, baseline] {
        for &c in outputs {
            series.extend(arm.iter().map(|row| row[c]));
        }
    }
    series.resize(3 * block, 0.0);
    let (arms, difference) = series.split_at_mut(2 * block);
    let (a, b) = arms.split_at(block);
    for (d, (a, b)) in difference.iter_mut().zip(a.iter().zip(b)) {
        *d = a - b;
    }
    series
}

/// One arm's results as the metrics and series read them: `len` rows (saved times) of `width`
/// values.
#[derive(Debug, Clone, Copy)]
struct Rows<'r> {
    values: &'r [f64],
    width: usize,
    len: usize,
}

impl<'r> Rows<'r> {
    fn of(r: &'r Results) -> Self {
        Rows::new(&r.values, r.columns.len(), r.times.len())
    }

    fn new(values: &'r [f64], width: usize, len: usize) -> Self {
        Rows {
            values: &values[..len * width],
            width,
            len,
        }
    }

    fn len(self) -> usize {
        self.len
    }

    /// The rows, in order (`width` must not be 0).
    fn iter(self) -> std::slice::ChunksExact<'r, f64> {
        self.values.chunks_exact(self.width)
    }
}

/// The scenario's metrics prepared for one set of saved times ([`m::Values`] and the prepared
/// metrics): what they need of the times and of their own parameters (windows, interpolation,
/// discount factors) worked out once instead of on every run, with the same results bit for bit.
#[derive(Debug, Clone)]
struct MetricPlan {
    /// The saved times it is for.
    times: Vec<f64>,
    /// The metrics' variables, each once (several metrics often read the same one).
    variables: Vec<Variable>,
    /// One per metric of the scenario.
    metrics: Vec<PreparedMetric>,
    /// The metric of the headline's cumulative series and the accumulation of that series, for
    /// the metric's start, rate and base (None without one; Err if they do not suit the saved
    /// times: NaN on every run).
    cumulative: Option<(usize, Result<m::Accumulation, String>)>,
}

/// A metric's variable: the sum of its result columns, in one arm.
#[derive(Debug, Clone, PartialEq)]
struct Variable {
    columns: Vec<usize>,
    arm: Arm,
}

impl Variable {
    /// The index of `metric`'s variable in `variables`, where it is added if it is not there.
    fn index(variables: &mut Vec<Variable>, metric: &Metric) -> usize {
        let v = Variable {
            columns: metric.columns.clone(),
            arm: metric.arm,
        };
        variables.iter().position(|u| *u == v).unwrap_or_else(|| {
            variables.push(v);
            variables.len() - 1
        })
    }
}

/// How one metric is computed from a run.
#[derive(Debug, Clone)]
enum PreparedMetric {
    /// From the values of `variables[variable]`; Err if it cannot be computed on the saved times
    /// (e.g. its window lies outside them): NaN on every run, as the plain function's error
    /// would give.
    Variable {
        variable: usize,
        metric: Result<VariableMetric, String>,
    },
    Roi {
        savings: usize,
        cost: usize,
    },
    Expression(MetricExpr),
}

#[derive(Debug, Clone)]
enum VariableMetric {
    Value(m::ValueAt),
    Sum(m::WindowSum),
    /// An integral or an NPV.
    Integral(m::Trapezoid),
    BreakEven(m::Accumulation),
}

impl MetricPlan {
    fn new(s: &Scenario, times: &[f64]) -> MetricPlan {
        let t = times;
        let mut variables = Vec::new();
        let metrics = s
            .metrics
            .iter()
            .map(|metric| {
                let prepared = match &metric.kind {
                    MetricKind::Value { at } => m::ValueAt::new(t, *at).map(VariableMetric::Value),
                    MetricKind::Sum { from, to } => {
                        m::WindowSum::new(t, *from, *to).map(VariableMetric::Sum)
                    }
                    MetricKind::Integral { from, to } => {
                        m::Trapezoid::integral(t, *from, *to).map(VariableMetric::Integral)
                    }
                    MetricKind::Npv {
                        from,
                        to,
                        rate,
                        base,
                    } => m::Trapezoid::discounted_integral(t, *from, *to, *rate, *base)
                        .map(VariableMetric::Integral),
                    MetricKind::BreakEven { from, rate, base } => {
                        m::Accumulation::new(t, *from, *rate, *base).map(VariableMetric::BreakEven)
                    }
                    MetricKind::Roi { savings, cost } => {
                        return PreparedMetric::Roi {
                            savings: *savings,
                            cost: *cost,
                        };
                    }
                    MetricKind::Expression(e) => return PreparedMetric::Expression(e.clone()),
                };
                PreparedMetric::Variable {
                    variable: Variable::index(&mut variables, metric),
                    metric: prepared,
                }
            })
            .collect();
        let cumulative = s.headline.cumulative.and_then(|k| match s.metrics[k].kind {
            MetricKind::Npv {
                from, rate, base, ..
            }
            | MetricKind::BreakEven { from, rate, base } => {
                Some((k, m::Accumulation::new(t, from, rate, base)))
            }
            _ => None,
        });
        MetricPlan {
            times: times.to_vec(),
            variables,
            metrics,
            cumulative,
        }
    }

    /// Whether it was prepared for `times` (bit for bit).
    fn is_for(&self, times: &[f64]) -> bool {
        self.times.len() == times.len()
            && self
                .times
                .iter()
                .zip(times)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }

    /// The values of every variable at every saved time into `out`, variable after variable.
    fn variable_values(&self, intervention: Rows, baseline: Rows, out: &mut Vec<f64>) {
        out.clear();
        out.reserve(self.variables.len() * intervention.len());
        for v in &self.variables {
            // One loop per arm, so that the arm is not tested for every value.
            let columns = &v.columns;
            match v.arm {
                Arm::Intervention => sum_columns(columns, intervention, baseline, out, |a, _| a),
                Arm::Baseline => sum_columns(columns, intervention, baseline, out, |_, b| b),
                Arm::Difference => sum_columns(columns, intervention, baseline, out, |a, b| a - b),
                Arm::Saving => sum_columns(columns, intervention, baseline, out, |a, b| b - a),
            }
        }
    }
}

/// Appends to `out` the sum over `columns` of `arm(intervention[row][c], baseline[row][c])` at
/// every saved time, as `Iterator::sum` adds them (from its neutral element, in column order;
/// test `variables_are_summed_as_iterator_sum_adds_them`) but a column at a time: one short loop
/// per column (nearly always one) instead of one per row.
fn sum_columns(
    columns: &[usize],
    intervention: Rows,
    baseline: Rows,
    out: &mut Vec<f64>,
    arm: impl Fn(f64, f64) -> f64,
) {
    let start = out.len();
    out.resize(start + intervention.len(), std::iter::empty::<f64>().sum());
    for &c in columns {
        let rows = intervention.iter().zip(baseline.iter());
        for (sum, (a, b)) in out[start..].iter_mut().zip(rows) {
            *sum += arm(a[c], b[c]);
        }
    }
}

/// A progress bar on stderr, shown only on a terminal and only once the work has taken a second.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(total: u64, enabled: bool) -> Progress {
        use std::io::IsTerminal as _;
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::hidden(),
            );
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {eta} left")
            {
                bar.set_style(style);
            }
            bar
        });
        Progress { bar }
    }

    fn set(&self, done: u64, started: Instant) {
        if let Some(bar) = &self.bar {
            if bar.is_hidden() && started.elapsed() > Duration::from_secs(1) {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_position(done);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Streams every run's series to a temporary file, renamed into place at the end.
struct PerRunWriter {
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl PerRunWriter {
    fn create(path: &Path, s: &Scenario) -> Result<PerRunWriter, Diagnostic> {
        let tmp = crate::output::temp_path(path);
        let file = std::fs::File::create(&tmp)
            .map_err(|e| Diagnostic::error(format!("cannot write `{}`: {e}", tmp.display())))?;
        let mut w = PerRunWriter {
            tmp,
            path: path.to_path_buf(),
            out: std::io::BufWriter::new(file),
        };
        let mut header = String::from("run,option,arm,time");
        for &c in &s.outputs {
            header.push(',');
            header.push_str(&crate::output::csv_field(&s.model.program.columns[c].name));
        }
        header.push('\n');
        w.write(header.as_bytes())?;
        Ok(w)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Diagnostic> {
        self.out
            .write_all(bytes)
            .map_err(|e| Diagnostic::error(format!("cannot write `{}`: {e}", self.tmp.display())))
    }

    /// Run `run`'s lines of the file (formatted on the pool; written in run order).
    fn run_text(
        run: usize,
        out: &RunOutput,
        n_out: usize,
        n_times: usize,
        times: &[f64],
    ) -> String {
        let mut text = String::new();
        for (o, OptionRun { series, .. }) in out.options.iter().enumerate() {
            for (a, arm) in ARMS.iter().enumerate() {
                for (row, t) in times.iter().enumerate() {
                    text.push_str(&format!("{run},{o},{},", arm.name()));
                    crate::output::push_number(&mut text, *t);
                    for k in 0..n_out {
                        text.push(',');
                        crate::output::push_number(
                            &mut text,
                            series[OptionOutcome::series_index(a, k, row, n_out, n_times)],
                        );
                    }
                    text.push('\n');
                }
            }
        }
        text
    }

    fn finish(mut self) -> Result<(), Diagnostic> {
        self.out.flush().map_err(|e| {
            Diagnostic::error(format!("cannot write `{}`: {e}", self.tmp.display()))
        })?;
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| Diagnostic::error(format!("cannot write `{}`: {e}", self.path.display())))
    }
}

impl Drop for PerRunWriter {
    fn drop(&mut self) {
        // After a successful finish the temporary file has been renamed; otherwise remove it.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose one option has `series` and a two-point cumulative series.
    fn run_with(series: Vec<f64>, cumulative: Vec<f64>) -> RunOutput {
        RunOutput {
            samples: Vec::new(),
            options: vec![OptionRun {
                metrics: Vec::new(),
                tests: Vec::new(),
                series,
                cumulative,
            }],
        }
    }

    #[test]
    fn folding_rounds_in_parallel_is_the_run_by_run_fold() {
        // More statistics than one chunk, not a multiple of it; rounds of uneven sizes.
        let n_stats = 2 * 32 + 7;
        let mut rng = crate::analysis::test_rng::Rng(11);
        let runs: Vec<RunOutput> = (0..60)
            .map(|_| {
                let series = (0..n_stats).map(|j| j as f64 * rng.next_f64()).collect();
                run_with(series, vec![rng.next_f64(), -rng.next_f64()])
            })
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        // Streaming from the first run, exact throughout, and exact until run 30 (in a round).
        for keep in [0, 60, 30] {
            let mut options = vec![OptionOutcome {
                lever_values: Vec::new(),
                series: ColumnStats::new(n_stats, keep),
                cumulative: ColumnStats::new(2, keep),
            }];
            pool.install(|| {
                for round in [0..1, 1..14, 14..60] {
                    fold_series(&mut options, &runs[round]);
                }
                options[0].series.settle();
                options[0].cumulative.settle();
            });
            let run_by_run = |stats: &mut ColumnStats, values: fn(&RunOutput) -> &[f64]| {
                for run in &runs {
                    stats.extend(&[values(run)]);
                }
                stats.settle();
                format!("{:?}", stats.summaries())
            };
            let series = run_by_run(&mut ColumnStats::new(n_stats, keep), |r| {
                &r.options[0].series
            });
            let cumulative =
                run_by_run(&mut ColumnStats::new(2, keep), |r| &r.options[0].cumulative);
            assert_eq!(format!("{:?}", options[0].series.summaries()), series);
            assert_eq!(
                format!("{:?}", options[0].cumulative.summaries()),
                cumulative
            );
            assert_eq!(options[0].series.summary(n_stats - 1).count, 60);
        }
    }

    /// Two arms' results of `len` rows of `width` random values, a quarter of them signed zeros
    /// (whose sums depend on the neutral element and the order of the additions).
    fn two_arms(width: usize, len: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rng = crate::analysis::test_rng::Rng(23);
        let mut arm = || -> Vec<f64> {
            (0..width * len)
                .map(|_| match (rng.next_f64() * 8.0) as u32 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => rng.next_f64() - 0.5,
                })
                .collect()
        };
        (arm(), arm())
    }

    fn bits(x: &[f64]) -> Vec<u64> {
        x.iter().map(|x| x.to_bits()).collect()
    }

    const ALL_ARMS: [Arm; 4] = [
        Arm::Intervention,
        Arm::Baseline,
        Arm::Difference,
        Arm::Saving,
    ];

    #[test]
    fn variables_are_summed_as_iterator_sum_adds_them() {
        let (width, len) = (4, 9);
        let (a, b) = two_arms(width, len);
        let mut variables = Vec::new();
        for columns in [vec![], vec![1], vec![2, 0, 3], vec![1, 1], vec![3, 2, 1, 0]] {
            for arm in ALL_ARMS {
                variables.push(Variable {
                    columns: columns.clone(),
                    arm,
                });
            }
        }
        let plan = MetricPlan {
            times: Vec::new(),
            variables,
            metrics: Vec::new(),
            cumulative: None,
        };
        let mut got = vec![f64::NAN; 2];
        let rows = |x| Rows::new(x, width, len);
        plan.variable_values(rows(&a), rows(&b), &mut got);
        assert_eq!(got.len(), plan.variables.len() * len);
        for (v, got) in plan.variables.iter().zip(got.chunks_exact(len)) {
            // Row by row, as evaluate summed them before a variable was gathered a column at a
            // time.
            let want: Vec<f64> = (0..len)
                .map(|row| {
                    let at = |c: usize| (a[row * width + c], b[row * width + c]);
                    v.columns
                        .iter()
                        .map(|&c| match (v.arm, at(c)) {
                            (Arm::Intervention, (x, _)) => x,
                            (Arm::Baseline, (_, y)) => y,
                            (Arm::Difference, (x, y)) => x - y,
                            (Arm::Saving, (x, y)) => y - x,
                        })
                        .sum()
                })
                .collect();
            assert_eq!(bits(got), bits(&want), "{v:?}");
        }
    }

    #[test]
    fn output_series_are_each_arm_then_their_difference() {
        let (width, len) = (5, 7);
        let (a, b) = two_arms(width, len);
        let outputs = [3, 0, 4, 3];
        let got = output_series(
            &outputs,
            Rows::new(&a, width, len),
            Rows::new(&b, width, len),
        );
        let mut want = Vec::new();
        for arm in ARMS {
            for &c in &outputs {
                for row in 0..len {
                    let (x, y) = (a[row * width + c], b[row * width + c]);
                    want.push(match arm {
                        Arm::Intervention => x,
                        Arm::Baseline => y,
                        Arm::Difference | Arm::Saving => x - y,
                    });
                }
            }
        }
        assert_eq!(bits(&got), bits(&want));
        assert!(
            output_series(&[], Rows::new(&a, width, len), Rows::new(&b, width, len)).is_empty()
        );
    }

    #[test]
    fn exact_quantiles_keep_at_most_1000_runs_and_16_mib() {
        assert_eq!(exact_quantile_capacity(0), EXACT_QUANTILE_RUNS);
        // The care scenario: 3 arms × 11 outputs × 21 times + 21 cumulative values.
        assert_eq!(exact_quantile_capacity(714), 1000);
        // care_investment_options: 12 options × (3 × 4 × 21 + 21).
        assert_eq!(exact_quantile_capacity(12 * 273), 640);
        assert!(exact_quantile_capacity(12 * 273) * 12 * 273 * 8 <= 16 << 20);
    }

    #[test]
    fn more_runs_than_u32_can_index_is_an_error_before_any_run() {
        assert!(check_run_count(1).is_ok());
        assert!(check_run_count(u32::MAX as usize).is_ok());
        let e = check_run_count(u32::MAX as usize + 1).unwrap_err();
        assert!(
            e.message.contains("too many runs: 4294967296"),
            "{}",
            e.message
        );
    }
}
