//! careshift: a system-dynamics engine for testing care-model investments.
//!
//! Data flows one way: **parse** ([`model`], [`equation`]) → **compile** ([`compile`], producing a
//! [`vm::Program`]) → **simulate** ([`simulate`]) → **report** ([`output`]). See
//! docs/ARCHITECTURE.md for the map and the invariants.

pub mod allocator;
pub mod analysis;
pub mod bench;
pub mod charts;
pub mod compile;
pub mod diagnostics;
pub mod equation;
pub mod experiment;
pub mod model;
pub mod montecarlo;
pub mod native;
pub mod output;
pub mod report;
pub mod report_charts;
pub mod report_html;
pub mod run_store;
pub mod scenario;
pub mod sensitivity;
pub mod simulate;
pub mod units;
pub mod vm;
pub mod xmile;

use std::path::Path;

use diagnostics::{Diagnostic, Diagnostics, Sources, did_you_mean};
use model::TimeSettings;
use simulate::Results;
use vm::Program;

/// A loaded and compiled model, ready to run any number of times.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub program: Program,
    pub sources: Sources,
    /// Compile-time warnings (missing units, unattached flows...).
    pub warnings: Vec<Diagnostic>,
    /// The declaration it was compiled from, for [`Model::specialize`].
    decl: std::sync::Arc<model::ModelDecl>,
    /// `program`'s stock–flow wiring and column names, made once for every run.
    prepared: std::sync::Arc<simulate::Prepared>,
    /// Loaded without machine code on purpose ([`Model::load_for_specializing`]): a program
    /// without it is then not a request for the interpreter.
    native_skipped: bool,
}

/// Why a model could not be loaded: the diagnostics and the files they point into.
#[derive(Debug)]
pub struct Failure {
    pub diagnostics: Diagnostics,
    pub sources: Sources,
}

impl Failure {
    pub fn render(&self) -> String {
        self.diagnostics.render(&self.sources)
    }
}

/// Read a model file into its flat declaration (TOML, or XMILE by extension or content), with
/// the warnings met while reading it.
pub fn load_decl(
    path: &Path,
    sources: Sources,
) -> Result<(model::ModelDecl, Vec<Diagnostic>), Failure> {
    if xmile::is_xmile(path) {
        xmile::import::load(path, sources)
    } else {
        model::load_model_with(path, sources).map(|decl| (decl, Vec::new()))
    }
    .map_err(|(diagnostics, sources)| Failure {
        diagnostics,
        sources,
    })
}

impl Model {
    /// Read, parse and compile a model file (and its modules).
    pub fn load(path: &Path) -> Result<Model, Failure> {
        Model::load_with(path, Sources::new())
    }

    /// Like [`Model::load`], adding the files read to `sources`.
    pub fn load_with(path: &Path, sources: Sources) -> Result<Model, Failure> {
        Model::load_compiled(path, sources, compile::compile)
    }

    /// Like [`Model::load_with`], without machine code: for a model that is specialised
    /// ([`Model::specialize`], which makes it) before any run, as a scenario's is. Runs of
    /// the model itself use the interpreter.
    pub fn load_for_specializing(path: &Path, sources: Sources) -> Result<Model, Failure> {
        let mut model = Model::load_compiled(path, sources, compile::compile_without_native)?;
        model.native_skipped = true;
        Ok(model)
    }

    fn load_compiled(
        path: &Path,
        sources: Sources,
        compile: impl Fn(&model::ModelDecl) -> Result<(Program, Vec<Diagnostic>), Diagnostics>,
    ) -> Result<Model, Failure> {
        let (decl, import_warnings) = load_decl(path, sources)?;
        // The model's own time settings must be runnable, so that `check` finds what `run`
        // would refuse (PREVIOUS with dopri5, too many steps or rows).
        let compiled = compile(&decl).and_then(|(program, warnings)| {
            simulate::validate_time(&program, &program.time)?;
            Ok((program, warnings))
        });
        match compiled {
            Ok((program, warnings)) => Ok(Model {
                name: decl.name.clone(),
                prepared: simulate::Prepared::of(&program),
                program,
                sources: decl.sources.clone(),
                warnings: import_warnings.into_iter().chain(warnings).collect(),
                decl: std::sync::Arc::new(decl),
                native_skipped: false,
            }),
            Err(diagnostics) => Err(Failure {
                diagnostics,
                sources: decl.sources,
            }),
        }
    }

    /// The model compiled for a job whose runs set only the constants in `settable` (slots
    /// of this model's program, e.g. from [`Model::overrides`]): every other literal constant
    /// keeps its model value in every run, so it is written into the per-step code as a
    /// number and what that makes constant is folded (see `compile::specialize`; selector
    /// constants such as `state_fit = [1, 0, 0, 0]` remove whole terms). Same columns and
    /// slots as `self`; a run that sets any other constant is refused.
    pub fn specialize(&self, settable: &[u32]) -> Result<Model, Failure> {
        self.specialize_with(compile::compile_specialized(&self.decl, settable))
    }

    /// [`Model::specialize`], keeping only the result columns `columns` (indices into this
    /// model's `program.columns`, increasing) and the per-step work they and the stocks need
    /// (`vm::Program::keep_columns`): the kept columns' values are the same bits. Column `k`
    /// of the new program is `columns[k]` of this one.
    pub fn specialize_keeping(
        &self,
        settable: &[u32],
        columns: &[usize],
    ) -> Result<Model, Failure> {
        self.specialize_with(compile::compile_specialized_keeping(
            &self.decl, settable, columns,
        ))
    }

    fn specialize_with(
        &self,
        compiled: Result<(Program, Vec<Diagnostic>), Diagnostics>,
    ) -> Result<Model, Failure> {
        match compiled {
            Ok((mut program, _)) => {
                // The interpreter stays the interpreter (`--interpreter`).
                if self.program.native.is_none() && !self.native_skipped {
                    program.use_interpreter();
                }
                Ok(Model {
                    prepared: simulate::Prepared::of(&program),
                    program,
                    native_skipped: false,
                    ..self.clone()
                })
            }
            Err(diagnostics) => Err(Failure {
                diagnostics,
                sources: self.sources.clone(),
            }),
        }
    }

    /// The model's own time settings.
    pub fn time(&self) -> &TimeSettings {
        &self.program.time
    }

    /// Resolve `NAME=VALUE` overrides to slots. `NAME` is a constant (every element) or one
    /// element, `name[e1,e2]`.
    pub fn overrides(&self, sets: &[(String, f64)]) -> Result<Vec<(u32, f64)>, Diagnostic> {
        let mut out = Vec::new();
        for (name, value) in sets {
            if !value.is_finite() {
                return Err(Diagnostic::error(format!(
                    "the value for `{name}` must be a finite number"
                )));
            }
            let key = name.replace(' ', "");
            let matched: Vec<&vm::Param> = self
                .program
                .params
                .iter()
                .filter(|p| p.name.replace(' ', "") == key || p.variable == key)
                .collect();
            if matched.is_empty() {
                return Err(self.unknown_parameter(name));
            }
            if let Some(p) = matched.iter().find(|p| p.fixed) {
                return Err(Diagnostic::error(format!(
                    "`{}` is the order of a DELAYN, which is fixed when the model is compiled, so it cannot be set",
                    p.name
                ))
                .help("change its value in the model file"));
            }
            out.extend(matched.into_iter().map(|p| (p.slot, *value)));
        }
        Ok(out)
    }

    fn unknown_parameter(&self, name: &str) -> Diagnostic {
        let base = name.split('[').next().unwrap_or(name);
        if let Some(c) = self
            .program
            .columns
            .iter()
            .find(|c| c.name == name || c.name.split('[').next() == Some(base))
        {
            if c.kind != vm::ColumnKind::Constant {
                return Diagnostic::error(format!(
                    "`{name}` is not a constant, so it cannot be set"
                ))
                .help("only constants (declared under [constants]) can be overridden");
            }
            if c.name == base {
                return Diagnostic::error(format!(
                    "`{base}` has no elements, so `{name}` cannot be set"
                ))
                .help(format!("set it as a whole: --set {base}=VALUE"));
            }
            return Diagnostic::error(format!("`{name}` does not name an element of `{base}`"))
                .help("write the element as it appears in the CSV header, e.g. name[85+]");
        }
        let names = self.program.params.iter().map(|p| p.variable.as_str());
        let d = Diagnostic::error(format!("unknown constant `{name}`"));
        match did_you_mean(base, names) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help("`careshift check MODEL --params` lists the constants that can be set"),
        }
    }

    /// One deterministic run.
    pub fn run(
        &self,
        time: &TimeSettings,
        overrides: &[(u32, f64)],
    ) -> Result<Results, Diagnostic> {
        self.simulator()
            .run(time, overrides, &simulate::ScheduleSet::default())
    }

    /// The program prepared for many runs (see [`simulate::Simulator`]).
    pub fn simulator(&self) -> simulate::Simulator<'_> {
        simulate::Simulator::with(&self.program, self.prepared.clone())
    }
}
