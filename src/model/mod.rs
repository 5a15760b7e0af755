//! Model files: the TOML schema ([`schema`]) and the loader ([`load`]) that reads a model and its
//! modules into one flat, fully-qualified [`ModelDecl`] for the compiler.

mod load;
pub mod schema;

pub use load::{load_model, load_model_with};

use crate::diagnostics::{Location, Sources};

/// Integration method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Euler,
    Rk4,
    Dopri5,
}

impl Method {
    pub fn parse(text: &str) -> Option<Method> {
        match text.to_ascii_lowercase().as_str() {
            "euler" => Some(Method::Euler),
            "rk4" => Some(Method::Rk4),
            "dopri5" => Some(Method::Dopri5),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Euler => "euler",
            Method::Rk4 => "rk4",
            Method::Dopri5 => "dopri5",
        }
    }
}

/// Time settings of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSettings {
    pub start: f64,
    pub stop: f64,
    pub dt: f64,
    pub save_step: f64,
    /// The time unit (e.g. `year`), used by unit checking: flows are stock units per this.
    pub units: String,
    pub method: Method,
    /// Relative and absolute tolerances (dopri5 only).
    pub rtol: f64,
    pub atol: f64,
}

/// One of a run's time settings, which a constant can stand for (the Vensim control variables
/// INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER of an XMILE model): the simulator sets such a
/// constant from the run's settings, so it follows `--stop`, `--dt` or a scenario's `[time]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    Start,
    Stop,
    Dt,
    SaveStep,
}

impl TimeField {
    pub fn of(self, t: &TimeSettings) -> f64 {
        match self {
            TimeField::Start => t.start,
            TimeField::Stop => t.stop,
            TimeField::Dt => t.dt,
            TimeField::SaveStep => t.save_step,
        }
    }
}

/// True when `step` is a whole multiple of `dt` (at least one): the fixed-step methods save
/// every `step / dt` steps.
pub fn is_whole_multiple(step: f64, dt: f64) -> bool {
    let ratio = step / dt;
    ratio.round() >= 1.0 && (ratio - ratio.round()).abs() <= 1e-6
}

/// A piece of equation text and where its first character sits in its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub text: String,
    pub loc: Location,
    /// When the text is not written verbatim in the file (a TOML string with escapes such as
    /// `\"85+\"`): the file offset of each byte of `text`, and one more for its end. Empty
    /// when byte `i` of `text` is at `loc.start + i`.
    pub offsets: Vec<usize>,
}

impl Text {
    /// Where bytes `start..end` of the text are in its file.
    pub fn locate(&self, start: usize, end: usize) -> Location {
        let at = |i: usize| match self.offsets.len() {
            0 => self.loc.start + i,
            n => self.offsets[i.min(n - 1)],
        };
        Location::new(self.loc.file, at(start), at(end))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    Stock,
    Flow,
    Auxiliary,
    Constant,
    Lookup,
    /// A module input, bound to an equation in the including model.
    Input,
}

impl VarKind {
    pub fn describe(self) -> &'static str {
        match self {
            VarKind::Stock => "stock",
            VarKind::Flow => "flow",
            VarKind::Auxiliary => "auxiliary",
            VarKind::Constant => "constant",
            VarKind::Lookup => "lookup table",
            VarKind::Input => "module input",
        }
    }

    /// [`VarKind::describe`] with its indefinite article: "a stock", "an auxiliary".
    pub fn with_article(self) -> String {
        let what = self.describe();
        let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {what}")
    }
}

/// How a variable's values are defined.
#[derive(Debug, Clone, PartialEq)]
pub enum Definition {
    /// One equation for every element (for stocks: the initial value).
    Equation(Text),
    /// One equation per element; the key lists one element name per dimension.
    PerElement(Vec<(Vec<String>, Location, Text)>),
    /// Literal values: one for all elements, or one per element in order.
    Values(Vec<f64>, Location),
    Lookup(LookupData),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LookupData {
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub extrapolate: bool,
    /// A step function: the y of the last point at or before x (XMILE `type="discrete"`).
    pub discrete: bool,
    pub x_units: Option<Text>,
}

/// One declared variable, with its name fully qualified by module path (`frailty.progression`).
#[derive(Debug, Clone, PartialEq)]
pub struct VarDecl {
    pub name: String,
    pub kind: VarKind,
    pub dims: Vec<String>,
    pub def: Definition,
    pub units: Option<Text>,
    pub doc: Option<String>,
    pub source: Option<String>,
    pub range: Option<(f64, f64)>,
    pub inflows: Vec<(String, Location)>,
    pub outflows: Vec<(String, Location)>,
    pub non_negative: bool,
    /// Prefix under which names in this variable's equations are resolved (`""` at top level,
    /// `"frailty."` inside module `frailty`; a module input's binding uses the parent's).
    pub scope: String,
    /// Where the variable is declared (its key).
    pub loc: Location,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    pub name: String,
    pub elements: Vec<String>,
    pub loc: Location,
}

/// A whole model: the top file plus its modules, flattened.
#[derive(Debug, Clone)]
pub struct ModelDecl {
    pub name: String,
    pub doc: Option<String>,
    pub time: TimeSettings,
    pub dimensions: Vec<Dimension>,
    pub vars: Vec<VarDecl>,
    pub sources: Sources,
    /// What differs for models read from another format (XMILE); default for TOML models.
    pub dialect: Dialect,
}

/// Settings of a model imported from another format (see docs/XMILE.md). The default is the
/// TOML model format's behaviour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dialect {
    /// Output name of a variable when it differs from its internal name (XMILE names may hold
    /// spaces and any characters): internal name → name as the modeller wrote it.
    pub labels: std::collections::HashMap<String, String>,
    /// Units are free text in the source format and are not checked (no "has no units"
    /// warnings either).
    pub units_unchecked: bool,
    /// Stocks that are kept non-negative by clamping the level at zero after each step,
    /// without changing their flows (XMILE `<non_negative/>` stocks, as the community's
    /// reference outputs require); TOML `non_negative` scales outflows instead.
    pub clamped_stocks: std::collections::HashSet<String>,
    /// Constants (internal names) that stand for one of the run's time settings.
    pub time_constants: Vec<(String, TimeField)>,
}
