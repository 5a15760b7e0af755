//! The compiler: [`ModelDecl`] → [`Program`].
//!
//! Passes, in order:
//! 1. symbols — dimensions, variables, one slot per array element (hidden slots are added later);
//! 2. units — every equation's units are inferred and checked against the declarations
//!    ([`unitcheck`]);
//! 3. lowering — each element's equation becomes scalar [`ir::Ir`] with resolved slots; stateful
//!    builtins become hidden stocks and auxiliaries ([`lower`]);
//! 4. ordering — auxiliaries and flows are sorted topologically, once for the initial phase and
//!    once for the per-step phase; a cycle is reported in full ([`order`]);
//! 5. code generation — flat bytecode for the VM ([`codegen`]).

mod codegen;
mod factors;
pub mod ir;
mod lower;
mod optimize;
mod order;
mod specialize;
mod unitcheck;

use std::collections::HashMap;

use crate::diagnostics::{Diagnostic, Diagnostics, Location};
use crate::equation::{self, Expr};
use crate::model::{Definition, Dimension, ModelDecl, Text, VarKind};
use crate::units::Unit;
use crate::vm::Program;
use ir::Ir;

/// The most array elements (stocks, flows, auxiliaries and constants together) a model may have:
/// far more than a care model needs, and few enough that the run fits in memory.
const MAX_SLOTS: usize = 10_000_000;

/// Compile a loaded model. On success also returns warnings.
pub fn compile(model: &ModelDecl) -> Result<(Program, Vec<Diagnostic>), Diagnostics> {
    compile_with(model, None, true, None)
}

/// [`compile`] without machine code (`Program::native` is `None`): for a program that is only
/// read, not run (a scenario resolves its names on it, then runs a specialised one).
pub fn compile_without_native(
    model: &ModelDecl,
) -> Result<(Program, Vec<Diagnostic>), Diagnostics> {
    compile_with(model, None, false, None)
}

/// Compile a loaded model for a job that sets only the constants in `settable` (slots, as
/// numbered by [`compile`] for the same model): every other literal constant is built into
/// the per-step code as a number ([`specialize`]). Runs of the result may override or
/// schedule only the `settable` slots (and the constants defined by equations).
pub fn compile_specialized(
    model: &ModelDecl,
    settable: &[u32],
) -> Result<(Program, Vec<Diagnostic>), Diagnostics> {
    compile_with(model, Some(settable), true, None)
}

/// [`compile_specialized`] keeping only the result columns `columns` (indices into the
/// columns [`compile`] makes, increasing) and the per-step work they and the stocks need
/// ([`Program::keep_columns`]): for a job that reports only some variables, as a scenario's
/// Monte Carlo does.
pub fn compile_specialized_keeping(
    model: &ModelDecl,
    settable: &[u32],
    columns: &[usize],
) -> Result<(Program, Vec<Diagnostic>), Diagnostics> {
    compile_with(model, Some(settable), true, Some(columns))
}

fn compile_with(
    model: &ModelDecl,
    settable: Option<&[u32]>,
    native: bool,
    keep_columns: Option<&[usize]>,
) -> Result<(Program, Vec<Diagnostic>), Diagnostics> {
    let mut b = Builder::new(model);
    b.declare();
    if !b.diags.has_errors() {
        b.define_all();
    }
    if b.diags.has_errors() {
        return Err(b.diags);
    }
    let orders = match order::order(&b) {
        Ok(o) => o,
        Err(d) => {
            b.diags.push(d);
            return Err(b.diags);
        }
    };
    // Literal constants that stand for the run's time settings (XMILE control variables).
    let time_constants: Vec<(u32, crate::model::TimeField)> = model
        .dialect
        .time_constants
        .iter()
        .filter_map(|(name, field)| {
            let v = &b.vars[*b.var_index.get(name)?];
            let literal = v.kind == VarKind::Constant
                && v.size == 1
                && b.literal_values[v.slot as usize].is_some();
            literal.then_some((v.slot, *field))
        })
        .collect();
    let built_in = match settable {
        None => vec![false; b.slots.len()],
        Some(settable) => {
            let mut built_in: Vec<bool> = b.literal_values.iter().map(Option::is_some).collect();
            for &s in settable {
                if let Some(flag) = built_in.get_mut(s as usize) {
                    *flag = false;
                }
            }
            for &(s, _) in &time_constants {
                built_in[s as usize] = false;
            }
            built_in
        }
    };
    let mut program = codegen::generate(&b, &orders, &built_in);
    program.time_constants = time_constants;
    optimize::optimize(&mut program);
    if let Some(columns) = keep_columns {
        program.keep_columns(columns);
    }
    // Machine code for the per-step assignments; the interpreter where Cranelift cannot
    // make it (an unsupported CPU), which gives the same numbers, only slower.
    if native {
        program.native = crate::native::compile(&program, program.defaults.len())
            .ok()
            .map(std::sync::Arc::new);
    }
    Ok((program, b.diags.items))
}

/// What a slot holds, which decides when it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotKind {
    /// Written before the run (a literal value or an initial-phase equation).
    Constant,
    /// Integrated.
    Stock,
    /// Recomputed at every evaluation (auxiliaries, flows, module inputs, hidden helpers).
    Aux,
    /// INIT(x): captured in the initial phase, constant afterwards.
    InitValue,
    /// PREVIOUS(x): updated after every step.
    Previous,
}

pub(crate) struct SlotInfo {
    pub name: String,
    pub kind: SlotKind,
    pub loc: Location,
    /// The declared variable this slot is an element of (None for hidden slots).
    pub var: Option<usize>,
}

pub(crate) struct Var {
    pub name: String,
    pub kind: VarKind,
    pub dims: Vec<usize>,
    pub slot: u32,
    pub size: usize,
    pub units: Option<Unit>,
    pub lookup: Option<u32>,
    pub decl: usize,
}

impl Var {
    pub fn display(&self) -> &str {
        &self.name
    }
}

pub(crate) struct Assignment {
    pub slot: u32,
    pub ir: Ir,
    pub loc: Location,
}

pub(crate) struct StockElem {
    pub slot: u32,
    pub inflows: Vec<u32>,
    pub outflows: Vec<u32>,
    pub non_negative: bool,
    /// Kept at zero or above by clamping the level after each step (XMILE stocks).
    pub clamp_at_zero: bool,
}

pub(crate) struct Table {
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub extrapolate: bool,
    /// Step function: the y of the last point at or before x.
    pub discrete: bool,
}

pub(crate) struct Builder<'m> {
    pub model: &'m ModelDecl,
    pub dims: Vec<Dimension>,
    pub dim_index: HashMap<String, usize>,
    pub vars: Vec<Var>,
    pub var_index: HashMap<String, usize>,
    pub slots: Vec<SlotInfo>,
    /// Default value of every literal constant slot.
    pub literal_values: Vec<Option<f64>>,
    /// Constant slots whose value is built into the program (the order of a DELAYN), so that
    /// overriding them before a run could not take effect.
    pub fixed: Vec<u32>,
    /// Assignments evaluated at every step (also in the initial phase).
    pub runtime: Vec<Assignment>,
    /// Assignments evaluated only in the initial phase (stock initial values, INIT, PREVIOUS
    /// initial values, constants defined by equations).
    pub init_only: Vec<Assignment>,
    pub stocks: Vec<StockElem>,
    /// Index into `stocks` of each stock slot.
    pub stock_index: HashMap<u32, usize>,
    pub previous: Vec<(u32, u32)>,
    pub fixed_delays: Vec<crate::vm::FixedDelay>,
    pub tables: Vec<Table>,
    pub diags: Diagnostics,
    pub time_unit: Unit,
}

impl<'m> Builder<'m> {
    fn new(model: &'m ModelDecl) -> Self {
        let dims = model.dimensions.clone();
        let dim_index = dims
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect();
        let time_unit =
            Unit::parse(&model.time.units).unwrap_or_else(|_| Unit::base(&model.time.units));
        Builder {
            model,
            dims,
            dim_index,
            vars: Vec::new(),
            var_index: HashMap::new(),
            slots: Vec::new(),
            literal_values: Vec::new(),
            fixed: Vec::new(),
            runtime: Vec::new(),
            init_only: Vec::new(),
            stocks: Vec::new(),
            stock_index: HashMap::new(),
            previous: Vec::new(),
            fixed_delays: Vec::new(),
            tables: Vec::new(),
            diags: Diagnostics::new(),
            time_unit,
        }
    }

    /// Pass 1: a [`Var`] and its slots for every declaration.
    fn declare(&mut self) {
        for (i, decl) in self.model.vars.iter().enumerate() {
            let mut dims = Vec::new();
            for d in &decl.dims {
                match self.dim_index.get(d) {
                    Some(&id) if dims.contains(&id) => self.diags.push(
                        Diagnostic::error(format!(
                            "`{}` lists dimension `{d}` twice in `dims`",
                            decl.name
                        ))
                        .at(decl.loc)
                        .help("each dimension may appear once; for a square table (from × to), declare a second dimension with the same elements"),
                    ),
                    Some(&id) => dims.push(id),
                    None => {
                        let names: Vec<&str> = self.dims.iter().map(|d| d.name.as_str()).collect();
                        let mut diag = Diagnostic::error(format!(
                            "`{}` uses unknown dimension `{d}`",
                            decl.name
                        ))
                        .at(decl.loc);
                        diag = match crate::diagnostics::did_you_mean(d, names.iter().copied()) {
                            Some(s) => diag.help(format!("did you mean `{s}`?")),
                            None => diag.help(
                                "declare it under [dimensions], e.g. age = [\"0-64\", \"65+\"]",
                            ),
                        };
                        self.diags.push(diag);
                    }
                }
            }
            let units = decl
                .units
                .as_ref()
                .and_then(|u| match Unit::parse(&u.text) {
                    Ok(unit) => Some(unit),
                    Err(e) => {
                        let mut d = Diagnostic::error(format!(
                            "invalid units `{}` of `{}`: {}",
                            u.text, decl.name, e.message
                        ))
                        .at(u.locate(e.offset, e.offset + 1));
                        if let Some(h) = e.help {
                            d = d.help(h);
                        }
                        self.diags.push(d);
                        None
                    }
                });
            let size = dims
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(self.dims[d].elements.len()))
                .filter(|&n| n <= MAX_SLOTS.saturating_sub(self.slots.len()));
            let size = size.unwrap_or_else(|| {
                self.diags.push(
                    Diagnostic::error(format!(
                        "`{}` has too many elements: a model may hold at most {MAX_SLOTS} values in all",
                        decl.name
                    ))
                    .at(decl.loc)
                    .help("use fewer or smaller dimensions"),
                );
                0
            });
            let slot = self.slots.len() as u32;
            let lookup = if decl.kind == VarKind::Lookup {
                if let Definition::Lookup(data) = &decl.def {
                    self.tables.push(Table {
                        xs: data.xs.clone(),
                        ys: data.ys.clone(),
                        extrapolate: data.extrapolate,
                        discrete: data.discrete,
                    });
                }
                Some(self.tables.len() as u32 - 1)
            } else {
                None
            };
            let var_id = self.vars.len();
            if lookup.is_none() {
                let kind = match decl.kind {
                    VarKind::Stock => SlotKind::Stock,
                    VarKind::Constant => SlotKind::Constant,
                    _ => SlotKind::Aux,
                };
                for e in 0..size {
                    let label = self.model.dialect.labels.get(&decl.name);
                    let name = element_name(label.unwrap_or(&decl.name), &dims, e, &self.dims);
                    self.slots.push(SlotInfo {
                        name,
                        kind,
                        loc: decl.loc,
                        var: Some(var_id),
                    });
                    self.literal_values.push(None);
                }
            }
            self.var_index.insert(decl.name.clone(), var_id);
            self.vars.push(Var {
                name: decl.name.clone(),
                kind: decl.kind,
                dims,
                slot,
                size,
                units,
                lookup,
                decl: i,
            });
        }
    }

    /// Pass 2–3: unit-check and lower every definition.
    fn define_all(&mut self) {
        for var_id in 0..self.vars.len() {
            let decl = &self.model.vars[self.vars[var_id].decl];
            if let Err(d) = self.define(var_id) {
                self.diags.push(d);
            }
            if decl.units.is_none()
                && decl.kind != VarKind::Lookup
                && !self.model.dialect.units_unchecked
            {
                self.diags.push(
                    Diagnostic::warning(format!(
                        "`{}` has no units; unit checking skips it",
                        decl.name
                    ))
                    .at(decl.loc)
                    .help("add units, e.g. units = \"people/year\" (or \"dimensionless\")"),
                );
            }
        }
        for var_id in 0..self.vars.len() {
            if self.vars[var_id].kind == VarKind::Stock
                && let Err(d) = self.connect_flows(var_id)
            {
                self.diags.push(d);
            }
        }
        self.warn_unattached_flows();
    }

    fn define(&mut self, var_id: usize) -> Result<(), Diagnostic> {
        let decl = &self.model.vars[self.vars[var_id].decl];
        let (size, slot, kind) = (
            self.vars[var_id].size,
            self.vars[var_id].slot,
            self.vars[var_id].kind,
        );
        match &decl.def {
            Definition::Lookup(data) => {
                if let (Some(x_units), _) = (&data.x_units, ())
                    && let Err(e) = Unit::parse(&x_units.text)
                {
                    return Err(Diagnostic::error(format!(
                        "invalid x_units of `{}`: {}",
                        decl.name, e.message
                    ))
                    .at(x_units.loc));
                }
                Ok(())
            }
            Definition::Values(values, loc) => {
                if values.len() != 1 && values.len() != size {
                    return Err(Diagnostic::error(format!(
                        "`{}` has {} elements but {} values were given",
                        decl.name,
                        size,
                        values.len()
                    ))
                    .at(*loc)
                    .help("give one value for all elements, or exactly one per element in declaration order"));
                }
                if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
                    return Err(Diagnostic::error(format!(
                        "`{}` has a non-finite value {bad}",
                        decl.name
                    ))
                    .at(*loc));
                }
                for e in 0..size {
                    let v = if values.len() == 1 {
                        values[0]
                    } else {
                        values[e]
                    };
                    match kind {
                        VarKind::Constant => self.literal_values[slot as usize + e] = Some(v),
                        _ => self.assign(var_id, e, Ir::Num(v), *loc),
                    }
                }
                Ok(())
            }
            Definition::Equation(text) => {
                let expr = parse(text)?;
                // Lower first: unknown names and bad subscripts are clearer than the unit
                // mismatches they would cause.
                for e in 0..size {
                    let ctx = self.ctx_for(var_id, e, text);
                    let ir = self.lower(&expr, &ctx)?;
                    self.assign(var_id, e, ir, text.loc);
                }
                self.check_units(var_id, &expr, text)
            }
            Definition::PerElement(entries) => {
                let mut defined = vec![false; size];
                for (key, key_loc, text) in entries {
                    let e = self.element_index(var_id, key, *key_loc)?;
                    if std::mem::replace(&mut defined[e], true) {
                        return Err(Diagnostic::error(format!(
                            "element [{}] of `{}` is defined twice",
                            key.join(","),
                            decl.name
                        ))
                        .at(*key_loc));
                    }
                    let expr = parse(text)?;
                    let ctx = self.ctx_for(var_id, e, text);
                    let ir = self.lower(&expr, &ctx)?;
                    self.assign(var_id, e, ir, text.loc);
                    self.check_units(var_id, &expr, text)?;
                }
                if let Some(missing) = defined.iter().position(|d| !d) {
                    let name =
                        element_name(&decl.name, &self.vars[var_id].dims, missing, &self.dims);
                    return Err(Diagnostic::error(format!("`{name}` has no equation")).at(decl.loc).help(
                        "with `elements`, give an equation for every element (keys like \"85+\" or \"85+,severe\")",
                    ));
                }
                Ok(())
            }
        }
    }

    fn ctx_for<'a>(&self, var_id: usize, element: usize, text: &'a Text) -> lower::Ctx<'a>
    where
        'm: 'a,
    {
        let v = &self.vars[var_id];
        let decl = &self.model.vars[v.decl];
        let mut elems = Vec::new();
        let mut rest = element;
        for (k, &d) in v.dims.iter().enumerate() {
            let stride: usize = v.dims[k + 1..]
                .iter()
                .map(|&d| self.dims[d].elements.len())
                .product();
            elems.push((d, rest / stride));
            rest %= stride;
        }
        lower::Ctx {
            scope: &self.model.vars[v.decl].scope,
            text,
            elems,
            owner: element_name(&decl.name, &v.dims, element, &self.dims),
        }
    }

    /// Record the definition of one element.
    fn assign(&mut self, var_id: usize, element: usize, ir: Ir, loc: Location) {
        let v = &self.vars[var_id];
        let slot = v.slot + element as u32;
        match v.kind {
            VarKind::Stock | VarKind::Constant => self.init_only.push(Assignment { slot, ir, loc }),
            _ => self.runtime.push(Assignment { slot, ir, loc }),
        }
        if v.kind == VarKind::Stock {
            let decl = &self.model.vars[v.decl];
            let clamped = self.model.dialect.clamped_stocks.contains(&decl.name);
            let non_negative = decl.non_negative;
            self.add_stock(slot, non_negative);
            if clamped && let Some(s) = self.stocks.last_mut() {
                s.clamp_at_zero = true;
            }
        }
    }

    fn element_index(
        &self,
        var_id: usize,
        key: &[String],
        loc: Location,
    ) -> Result<usize, Diagnostic> {
        let v = &self.vars[var_id];
        if key.len() != v.dims.len() {
            return Err(Diagnostic::error(format!(
                "element key [{}] of `{}` needs {} element name(s), one per dimension",
                key.join(","),
                v.name,
                v.dims.len()
            ))
            .at(loc)
            .help("separate names with commas, e.g. \"85+,severe\""));
        }
        let mut index = 0;
        for (name, &d) in key.iter().zip(&v.dims) {
            let dim = &self.dims[d];
            let Some(i) = dim.elements.iter().position(|e| e == name) else {
                return Err(Diagnostic::error(format!(
                    "`{name}` is not an element of dimension `{}`",
                    dim.name
                ))
                .at(loc)
                .help(format!("its elements are: {}", dim.elements.join(", "))));
            };
            index = index * dim.elements.len() + i;
        }
        Ok(index)
    }

    /// Resolve a stock's inflows and outflows to slots, element by element.
    fn connect_flows(&mut self, stock_id: usize) -> Result<(), Diagnostic> {
        let decl = &self.model.vars[self.vars[stock_id].decl];
        let stock_dims = self.vars[stock_id].dims.clone();
        for (outflow, list) in [(false, &decl.inflows), (true, &decl.outflows)] {
            for (name, loc) in list {
                let Some(&flow_id) = self.var_index.get(name) else {
                    let flows = self
                        .vars
                        .iter()
                        .filter(|v| v.kind == VarKind::Flow)
                        .map(|v| v.name.as_str());
                    let mut d = Diagnostic::error(format!(
                        "stock `{}` lists unknown flow `{name}`",
                        decl.name
                    ))
                    .at(*loc);
                    d = match crate::diagnostics::did_you_mean(name, flows) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help("declare it under [flows]"),
                    };
                    return Err(d);
                };
                let flow = &self.vars[flow_id];
                if !matches!(flow.kind, VarKind::Flow | VarKind::Input) {
                    return Err(Diagnostic::error(format!(
                        "`{name}` is listed as a flow of stock `{}` but is {}",
                        decl.name,
                        flow.kind.with_article()
                    ))
                    .at(*loc)
                    .help(format!("declare `{name}` under [flows]")));
                }
                if let Some(&d) = flow.dims.iter().find(|d| !stock_dims.contains(d)) {
                    return Err(Diagnostic::error(format!(
                        "flow `{name}` is arrayed over `{}`, which stock `{}` is not",
                        self.dims[d].name, decl.name
                    ))
                    .at(*loc)
                    .help("a flow's dimensions must be among its stock's; aggregate it in another flow with SUM"));
                }
                self.check_flow_units(stock_id, flow_id, *loc)?;
                let (flow_slot, flow_dims) = (flow.slot, flow.dims.clone());
                let stock_slot = self.vars[stock_id].slot;
                for e in 0..self.vars[stock_id].size {
                    let idx = project(e, &stock_dims, &flow_dims, &self.dims);
                    let slot = stock_slot + e as u32;
                    let Some(stock) = self.stock_mut(slot) else {
                        continue;
                    };
                    let target = if outflow {
                        &mut stock.outflows
                    } else {
                        &mut stock.inflows
                    };
                    target.push(flow_slot + idx as u32);
                }
            }
        }
        Ok(())
    }

    fn warn_unattached_flows(&mut self) {
        let mut attached = vec![false; self.vars.len()];
        for decl in &self.model.vars {
            for (name, _) in decl.inflows.iter().chain(&decl.outflows) {
                if let Some(&i) = self.var_index.get(name) {
                    attached[i] = true;
                }
            }
        }
        for (i, v) in self.vars.iter().enumerate() {
            if v.kind == VarKind::Flow && !attached[i] {
                self.diags.push(
                    Diagnostic::warning(format!(
                        "flow `{}` is not an inflow or outflow of any stock",
                        v.name
                    ))
                    .at(self.model.vars[v.decl].loc)
                    .help("add it to a stock's inflows or outflows, or declare it as an auxiliary"),
                );
            }
        }
    }

    /// A new hidden slot (not a column of the output).
    pub(crate) fn hidden_slot(&mut self, kind: SlotKind, name: String, loc: Location) -> u32 {
        self.slots.push(SlotInfo {
            name,
            kind,
            loc,
            var: None,
        });
        self.literal_values.push(None);
        self.slots.len() as u32 - 1
    }

    /// A hidden auxiliary computed from `ir` at every evaluation.
    pub(crate) fn hidden_aux(&mut self, name: String, ir: Ir, loc: Location) -> u32 {
        let slot = self.hidden_slot(SlotKind::Aux, name, loc);
        self.runtime.push(Assignment { slot, ir, loc });
        slot
    }

    /// A hidden stock with initial value `init` (its flows are attached by the caller).
    pub(crate) fn hidden_stock(&mut self, name: String, init: Ir, loc: Location) -> u32 {
        let slot = self.hidden_slot(SlotKind::Stock, name, loc);
        self.init_only.push(Assignment {
            slot,
            ir: init,
            loc,
        });
        self.add_stock(slot, false);
        slot
    }

    fn add_stock(&mut self, slot: u32, non_negative: bool) {
        self.stock_index.insert(slot, self.stocks.len());
        self.stocks.push(StockElem {
            slot,
            inflows: Vec::new(),
            outflows: Vec::new(),
            non_negative,
            clamp_at_zero: false,
        });
    }

    fn stock_mut(&mut self, slot: u32) -> Option<&mut StockElem> {
        let i = *self.stock_index.get(&slot)?;
        self.stocks.get_mut(i)
    }

    pub(crate) fn attach_inflow(&mut self, stock: u32, flow: u32) {
        if let Some(s) = self.stock_mut(stock) {
            s.inflows.push(flow);
        }
    }
}

/// Parse an equation, turning a parse error into a located diagnostic.
pub(crate) fn parse(text: &Text) -> Result<Expr, Diagnostic> {
    equation::parse(&text.text).map_err(|e| {
        let mut d = Diagnostic::error(format!("syntax error: {}", e.message))
            .at(text.locate(e.span.start, e.span.end));
        if let Some(h) = e.help {
            d = d.help(h);
        }
        d
    })
}

/// `name` or `name[e1,e2]` for element `flat` of a variable over `dims`.
pub(crate) fn element_name(name: &str, dims: &[usize], flat: usize, all: &[Dimension]) -> String {
    if dims.is_empty() {
        return name.to_string();
    }
    let mut parts = Vec::with_capacity(dims.len());
    let mut rest = flat;
    for (k, &d) in dims.iter().enumerate() {
        let stride: usize = dims[k + 1..]
            .iter()
            .map(|&d| all[d].elements.len())
            .product();
        parts.push(all[d].elements[rest / stride].as_str());
        rest %= stride;
    }
    format!("{name}[{}]", parts.join(","))
}

/// The flat index, in a variable over `to` (a subset of `from`), matching element `flat` of `from`.
fn project(flat: usize, from: &[usize], to: &[usize], all: &[Dimension]) -> usize {
    let mut idx_of = HashMap::new();
    let mut rest = flat;
    for (k, &d) in from.iter().enumerate() {
        let stride: usize = from[k + 1..]
            .iter()
            .map(|&d| all[d].elements.len())
            .product();
        idx_of.insert(d, rest / stride);
        rest %= stride;
    }
    to.iter()
        .fold(0, |acc, d| acc * all[*d].elements.len() + idx_of[d])
}
