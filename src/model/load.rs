//! Read a model file and its modules into a flat [`ModelDecl`].
//!
//! Modules are expanded recursively: every variable of module `m` becomes `m.<name>`, nested
//! modules `m.n.<name>`. A module's `[inputs]` become variables whose equations come from the
//! including file (resolved in the including file's scope). Dimensions are global: a module that
//! declares a dimension the parent also declares must list the same elements.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use toml::Spanned;

use super::schema::{self, ConstantValue, ModelFile, NumberOrEquation};
use super::{
    Definition, Dimension, LookupData, Method, ModelDecl, Text, TimeSettings, VarDecl, VarKind,
};
use crate::diagnostics::{Diagnostic, Diagnostics, FileId, Location, Sources};
use crate::units::Unit;

/// Load `path` and every module it includes.
pub fn load_model(path: &Path) -> Result<ModelDecl, (Diagnostics, Sources)> {
    load_model_with(path, Sources::new())
}

/// Like [`load_model`], adding the files read to `sources` (which may already hold other files,
/// e.g. the scenario that names this model).
pub fn load_model_with(path: &Path, sources: Sources) -> Result<ModelDecl, (Diagnostics, Sources)> {
    let mut loader = Loader {
        sources,
        diags: Diagnostics::new(),
        stack: Vec::new(),
    };
    let result = loader.load_root(path);
    match result {
        Some(model) if !loader.diags.has_errors() => Ok(ModelDecl {
            sources: loader.sources,
            ..model
        }),
        _ => Err((loader.diags, loader.sources)),
    }
}

struct Loader {
    sources: Sources,
    diags: Diagnostics,
    /// Canonical paths of the files being expanded (to detect a module including itself).
    stack: Vec<PathBuf>,
}

struct Parsed {
    file: FileId,
    doc: ModelFile,
}

/// Accumulates the flat declarations of the whole model.
struct Flat {
    dimensions: Vec<Dimension>,
    vars: Vec<VarDecl>,
}

impl Loader {
    fn load_root(&mut self, path: &Path) -> Option<ModelDecl> {
        let parsed = self.read(path, None)?;
        let file = parsed.file;
        let time = match &parsed.doc.time {
            Some(t) => self.time_settings(file, t)?,
            None => {
                self.diags.push(
                    Diagnostic::error(format!("model file `{}` has no [time] table", path.display()))
                        .at(Location::new(file, 0, 0))
                        .help("add [time] with start, stop, dt and units, e.g.\n[time]\nstart = 0\nstop = 10\ndt = 0.25\nunits = \"year\""),
                );
                return None;
            }
        };
        let name = parsed
            .doc
            .model
            .as_ref()
            .and_then(|m| m.name.clone())
            .unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        let doc = parsed.doc.model.as_ref().and_then(|m| m.doc.clone());
        let mut flat = Flat {
            dimensions: Vec::new(),
            vars: Vec::new(),
        };
        self.stack.push(canonical(path));
        self.expand(parsed, path, "", &mut flat);
        self.stack.pop();
        Some(ModelDecl {
            name,
            doc,
            time,
            dimensions: flat.dimensions,
            vars: flat.vars,
            sources: Sources::new(),
            dialect: Default::default(),
        })
    }

    /// Read and parse one file. `included_from` locates the `file = ...` that named it.
    fn read(&mut self, path: &Path, included_from: Option<Location>) -> Option<Parsed> {
        if path.is_dir() {
            self.diags.push(
                Diagnostic::error(format!(
                    "`{}` is a directory, not a model file",
                    path.display()
                ))
                .at_opt(included_from)
                .help("give the path of a .toml model file"),
            );
            return None;
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                let help = if included_from.is_some() {
                    "module paths are relative to the file that includes them"
                } else {
                    "check the path; bundled models are under models/"
                };
                self.diags.push(
                    Diagnostic::error(format!("cannot read model file `{}`: {e}", path.display()))
                        .at_opt(included_from)
                        .help(help),
                );
                return None;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(format!(
                        "`{}` is not a text file (invalid UTF-8 at byte {})",
                        path.display(),
                        e.utf8_error().valid_up_to()
                    ))
                    .at_opt(included_from)
                    .help("a model is a TOML text file; see docs/MODEL_FORMAT.md"),
                );
                return None;
            }
        };
        // (An empty module is valid: it declares nothing.)
        if included_from.is_none() && text.trim().is_empty() {
            self.diags.push(
                Diagnostic::error(format!("model file `{}` is empty", path.display()))
                    .help("a model needs at least a [time] table; see models/examples/ for complete models"),
            );
            return None;
        }
        let file = self.sources.add(path, text);
        match toml::from_str::<ModelFile>(self.sources.text(file)) {
            Ok(doc) => Some(Parsed { file, doc }),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = e.message().trim().to_string();
                let help = toml_help(&message);
                let mut d = Diagnostic::error(format!("invalid model file: {message}"))
                    .at(Location::new(file, span.start, span.end));
                if let Some(h) = help {
                    d = d.help(h);
                }
                self.diags.push(d);
                None
            }
        }
    }

    fn time_settings(
        &mut self,
        file: FileId,
        t: &Spanned<schema::TimeSpec>,
    ) -> Option<TimeSettings> {
        let spec = t.get_ref();
        let loc = |s: &std::ops::Range<usize>| Location::new(file, s.start, s.end);
        let mut ok = true;
        let mut check = |cond: bool, span: std::ops::Range<usize>, msg: &str, help: &str| {
            if !cond {
                self.diags.push(
                    Diagnostic::error(msg.to_string())
                        .at(loc(&span))
                        .help(help.to_string()),
                );
                ok = false;
            }
        };
        let (start, stop, dt) = (
            *spec.start.get_ref(),
            *spec.stop.get_ref(),
            *spec.dt.get_ref(),
        );
        check(
            start.is_finite(),
            spec.start.span(),
            "time.start must be a finite number",
            "e.g. start = 2025",
        );
        check(
            stop.is_finite() && stop > start,
            spec.stop.span(),
            "time.stop must be a finite number greater than time.start",
            "e.g. start = 2025, stop = 2045",
        );
        check(
            dt.is_finite() && dt > 0.0,
            spec.dt.span(),
            "time.dt must be a positive number",
            "e.g. dt = 0.25 (a quarter of the time unit)",
        );
        let save_step = spec.save_step.as_ref().map_or(dt, |s| *s.get_ref());
        if let Some(s) = &spec.save_step {
            check(
                save_step.is_finite() && save_step > 0.0,
                s.span(),
                "time.save_step must be a positive number",
                "e.g. save_step = 1",
            );
        }
        let method = match &spec.method {
            None => Method::Euler,
            Some(m) => match Method::parse(m.get_ref()) {
                Some(m) => m,
                None => {
                    check(
                        false,
                        m.span(),
                        &format!("unknown integration method `{}`", m.get_ref()),
                        "use one of: euler, rk4, dopri5",
                    );
                    Method::Euler
                }
            },
        };
        let rtol = spec.rtol.as_ref().map_or(1e-6, |v| *v.get_ref());
        let atol = spec.atol.as_ref().map_or(1e-6, |v| *v.get_ref());
        for (v, s, name) in [(rtol, &spec.rtol, "rtol"), (atol, &spec.atol, "atol")] {
            if let Some(s) = s {
                check(
                    v.is_finite() && v > 0.0,
                    s.span(),
                    &format!("time.{name} must be a positive number"),
                    "e.g. 1e-6",
                );
            }
        }
        if let Some(s) = &spec.save_step {
            let positive = dt > 0.0 && save_step > 0.0;
            check(
                method == Method::Dopri5 || !positive || super::is_whole_multiple(save_step, dt),
                s.span(),
                &format!("time.save_step ({save_step}) must be a whole multiple of time.dt ({dt})"),
                "e.g. dt = 0.25 with save_step = 1 (only dopri5 can save at any interval)",
            );
        }
        let units = self.text(file, spec.units.span(), spec.units.get_ref());
        if let Err(e) = Unit::parse(&units.text) {
            let mut d = Diagnostic::error(format!(
                "invalid time units `{}`: {}",
                units.text, e.message
            ))
            .at(units.locate(e.offset, e.offset + 1));
            if let Some(h) = e.help {
                d = d.help(h);
            }
            self.diags.push(d);
            ok = false;
        }
        ok.then(|| TimeSettings {
            start,
            stop,
            dt,
            save_step,
            units: spec.units.get_ref().clone(),
            method,
            rtol,
            atol,
        })
    }

    /// Add the declarations of `parsed` (a file at `path`) to `flat` under `prefix`.
    fn expand(&mut self, parsed: Parsed, path: &Path, prefix: &str, flat: &mut Flat) {
        let file = parsed.file;
        let doc = parsed.doc;
        let at = |s: std::ops::Range<usize>| Location::new(file, s.start, s.end);

        for (name, elements) in &doc.dimensions {
            let elems: Vec<String> = elements
                .get_ref()
                .iter()
                .map(|e| e.get_ref().clone())
                .collect();
            let loc = at(name.span());
            self.check_identifier(name.get_ref(), loc, "dimension");
            if elems.is_empty() {
                self.diags.push(
                    Diagnostic::error(format!("dimension `{}` has no elements", name.get_ref()))
                        .at(at(elements.span()))
                        .help("list its elements, e.g. age = [\"0-64\", \"65+\"]"),
                );
                continue;
            }
            let mut seen = HashSet::new();
            for e in elements.get_ref() {
                if !seen.insert(e.get_ref().as_str()) {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "element `{}` appears twice in dimension `{}`",
                            e.get_ref(),
                            name.get_ref()
                        ))
                        .at(at(e.span())),
                    );
                }
            }
            if let Some(existing) = flat.dimensions.iter().find(|d| d.name == *name.get_ref()) {
                if existing.elements != elems {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "dimension `{}` is declared with different elements in two files",
                            name.get_ref()
                        ))
                        .at(loc)
                        .note("first declared here", Some(existing.loc))
                        .help("a model and its modules must agree on every shared dimension"),
                    );
                }
                continue;
            }
            flat.dimensions.push(Dimension {
                name: name.get_ref().clone(),
                elements: elems,
                loc,
            });
        }

        for (name, decl) in &doc.constants {
            let c = decl.get_ref();
            let loc = at(name.span());
            let def = match (&c.value, &c.equation, &c.elements) {
                (Some(v), None, None) => match v.get_ref() {
                    ConstantValue::One(x) => Definition::Values(vec![*x], at(v.span())),
                    ConstantValue::Many(xs) => Definition::Values(xs.clone(), at(v.span())),
                },
                (None, Some(eq), None) => {
                    Definition::Equation(self.text(file, eq.span(), eq.get_ref()))
                }
                (None, None, Some(elements)) => self.per_element(file, elements),
                _ => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "constant `{}` needs exactly one of `value`, `equation` or `elements`",
                            name.get_ref()
                        ))
                        .at(loc)
                        .help("e.g. value = 0.05, or value = [0.1, 0.2] for one value per element"),
                    );
                    continue;
                }
            };
            let range = c.range.as_ref().and_then(|r| {
                let v = r.get_ref();
                if v.len() == 2 && v[0].is_finite() && v[1].is_finite() && v[0] <= v[1] {
                    Some((v[0], v[1]))
                } else {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "range of `{}` must be [low, high] with low <= high",
                            name.get_ref()
                        ))
                        .at(at(r.span()))
                        .help("e.g. range = [0.02, 0.08]"),
                    );
                    None
                }
            });
            let var = VarDecl {
                range,
                source: c.source.clone(),
                ..self.var(
                    prefix,
                    name,
                    loc,
                    VarKind::Constant,
                    &c.dims,
                    def,
                    &c.units,
                    &c.doc,
                    file,
                )
            };
            self.push_var(flat, var);
        }

        for (name, decl) in &doc.stocks {
            let s = decl.get_ref();
            let loc = at(name.span());
            let def = match (&s.initial, &s.elements) {
                (Some(init), None) => self.number_or_equation(file, init),
                (None, Some(elements)) => self.per_element(file, elements),
                _ => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "stock `{}` needs exactly one of `initial` or `elements` (initial values)",
                            name.get_ref()
                        ))
                        .at(loc)
                        .help("e.g. initial = 1000, or initial = \"births * 10\""),
                    );
                    continue;
                }
            };
            let qualify = |list: &Vec<Spanned<String>>| {
                list.iter()
                    .map(|f| (format!("{prefix}{}", f.get_ref()), at(f.span())))
                    .collect::<Vec<_>>()
            };
            let var = VarDecl {
                inflows: qualify(&s.inflows),
                outflows: qualify(&s.outflows),
                non_negative: s.non_negative,
                source: s.source.clone(),
                ..self.var(
                    prefix,
                    name,
                    loc,
                    VarKind::Stock,
                    &s.dims,
                    def,
                    &s.units,
                    &s.doc,
                    file,
                )
            };
            self.push_var(flat, var);
        }

        for (kind, table) in [
            (VarKind::Flow, &doc.flows),
            (VarKind::Auxiliary, &doc.auxiliaries),
        ] {
            for (name, decl) in table {
                let v = decl.get_ref();
                let loc = at(name.span());
                let def = match (&v.equation, &v.elements) {
                    (Some(eq), None) => self.number_or_equation(file, eq),
                    (None, Some(elements)) => self.per_element(file, elements),
                    _ => {
                        self.diags.push(
                            Diagnostic::error(format!(
                                "{} `{}` needs exactly one of `equation` or `elements`",
                                kind.describe(),
                                name.get_ref()
                            ))
                            .at(loc)
                            .help("e.g. equation = \"population * rate\""),
                        );
                        continue;
                    }
                };
                let var = VarDecl {
                    source: v.source.clone(),
                    ..self.var(
                        prefix, name, loc, kind, &v.dims, def, &v.units, &v.doc, file,
                    )
                };
                self.push_var(flat, var);
            }
        }

        for (name, decl) in &doc.lookups {
            let l = decl.get_ref();
            let loc = at(name.span());
            let (xs, ys) = (l.x.get_ref(), l.y.get_ref());
            if xs.len() != ys.len() || xs.len() < 2 {
                self.diags.push(
                    Diagnostic::error(format!(
                        "lookup `{}` needs x and y of the same length, at least 2 points (x has {}, y has {})",
                        name.get_ref(),
                        xs.len(),
                        ys.len()
                    ))
                    .at(at(l.y.span())),
                );
                continue;
            }
            if xs.windows(2).any(|w| w[1] <= w[0]) || xs.iter().chain(ys).any(|v| !v.is_finite()) {
                self.diags.push(
                    Diagnostic::error(format!(
                        "lookup `{}` x values must be finite and strictly increasing",
                        name.get_ref()
                    ))
                    .at(at(l.x.span()))
                    .help("sort the points by x and remove duplicates"),
                );
                continue;
            }
            let x_units = l
                .x_units
                .as_ref()
                .map(|u| self.text(file, u.span(), u.get_ref()));
            let def = Definition::Lookup(LookupData {
                xs: xs.clone(),
                ys: ys.clone(),
                extrapolate: l.extrapolate,
                discrete: false,
                x_units,
            });
            let var = VarDecl {
                source: l.source.clone(),
                ..self.var(
                    prefix,
                    name,
                    loc,
                    VarKind::Lookup,
                    &[],
                    def,
                    &l.units,
                    &l.doc,
                    file,
                )
            };
            self.push_var(flat, var);
        }

        for (name, decl) in &doc.modules {
            self.expand_module(file, path, prefix, name, decl, flat);
        }
    }

    fn expand_module(
        &mut self,
        file: FileId,
        path: &Path,
        prefix: &str,
        name: &Spanned<String>,
        decl: &Spanned<schema::ModuleDecl>,
        flat: &mut Flat,
    ) {
        let at = |s: std::ops::Range<usize>| Location::new(file, s.start, s.end);
        let m = decl.get_ref();
        let loc = at(name.span());
        self.check_identifier(name.get_ref(), loc, "module");
        let module_path = path
            .parent()
            .unwrap_or(Path::new("."))
            .join(m.file.get_ref());
        let file_loc = at(m.file.span());
        let canon = canonical(&module_path);
        if self.stack.contains(&canon) {
            self.diags.push(
                Diagnostic::error(format!(
                    "module `{}` includes `{}`, which is already being included (a module cycle)",
                    name.get_ref(),
                    m.file.get_ref()
                ))
                .at(file_loc)
                .help("a module cannot include itself, directly or through other modules"),
            );
            return;
        }
        let Some(parsed) = self.read(&module_path, Some(file_loc)) else {
            return;
        };
        let module_file = parsed.file;
        let module_prefix = format!("{prefix}{}.", name.get_ref());
        let declared_inputs: Vec<(String, Location)> = parsed
            .doc
            .inputs
            .iter()
            .map(|(n, _)| {
                (
                    n.get_ref().clone(),
                    Location::new(module_file, n.span().start, n.span().end),
                )
            })
            .collect();
        // Inputs: variables of the module defined by the parent's binding equations.
        for (input, idecl) in &parsed.doc.inputs {
            let i = idecl.get_ref();
            let iloc = Location::new(module_file, input.span().start, input.span().end);
            let Some((_, binding)) = m
                .inputs
                .iter()
                .find(|(k, _)| k.get_ref() == input.get_ref())
            else {
                self.diags.push(
                    Diagnostic::error(format!(
                        "module `{}` needs input `{}`, but it is not bound",
                        name.get_ref(),
                        input.get_ref()
                    ))
                    .at(loc)
                    .note("the input is declared here", Some(iloc))
                    .help(format!(
                        "add it to [modules.{}.inputs], e.g. {} = \"<equation in this model's names>\"",
                        name.get_ref(),
                        input.get_ref()
                    )),
                );
                continue;
            };
            let def = self.number_or_equation(file, binding);
            let var = VarDecl {
                scope: prefix.to_string(),
                ..self.var(
                    &module_prefix,
                    input,
                    iloc,
                    VarKind::Input,
                    &i.dims,
                    def,
                    &i.units,
                    &i.doc,
                    module_file,
                )
            };
            self.push_var(flat, var);
        }
        for (bound, _) in &m.inputs {
            if !declared_inputs.iter().any(|(n, _)| n == bound.get_ref()) {
                let known: Vec<&str> = declared_inputs.iter().map(|(n, _)| n.as_str()).collect();
                self.diags.push(
                    Diagnostic::error(format!(
                        "module `{}` has no input named `{}`",
                        name.get_ref(),
                        bound.get_ref()
                    ))
                    .at(at(bound.span()))
                    .help(if known.is_empty() {
                        "the module declares no [inputs]".to_string()
                    } else {
                        format!("its inputs are: {}", known.join(", "))
                    }),
                );
            }
        }
        let first_var = flat.vars.len();
        self.stack.push(canon);
        self.expand(parsed, &module_path, &module_prefix, flat);
        self.stack.pop();
        // Parameter overrides: replace the module constant's default value.
        for (param, value) in &m.parameters {
            let qualified = format!("{module_prefix}{}", param.get_ref());
            let ploc = at(param.span());
            match flat.vars[first_var..].iter_mut().find(|v| v.name == qualified) {
                Some(v) if v.kind == VarKind::Constant => {
                    v.def = Definition::Values(vec![*value.get_ref()], at(value.span()));
                }
                Some(v) => self.diags.push(
                    Diagnostic::error(format!(
                        "`{}` in module `{}` is {}, not a constant; only constants can be set in [modules.{}.parameters]",
                        param.get_ref(),
                        name.get_ref(),
                        v.kind.with_article(),
                        name.get_ref()
                    ))
                    .at(ploc),
                ),
                None => self.diags.push(
                    Diagnostic::error(format!(
                        "module `{}` has no constant named `{}`",
                        name.get_ref(),
                        param.get_ref()
                    ))
                    .at(ploc),
                ),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn var(
        &mut self,
        prefix: &str,
        name: &Spanned<String>,
        loc: Location,
        kind: VarKind,
        dims: &[Spanned<String>],
        def: Definition,
        units: &Option<Spanned<String>>,
        doc: &Option<String>,
        file: FileId,
    ) -> VarDecl {
        self.check_identifier(name.get_ref(), loc, kind.describe());
        VarDecl {
            name: format!("{prefix}{}", name.get_ref()),
            kind,
            dims: dims.iter().map(|d| d.get_ref().clone()).collect(),
            def,
            units: units
                .as_ref()
                .map(|u| self.text(file, u.span(), u.get_ref())),
            doc: doc.clone(),
            source: None,
            range: None,
            inflows: Vec::new(),
            outflows: Vec::new(),
            non_negative: false,
            scope: prefix.to_string(),
            loc,
        }
    }

    fn push_var(&mut self, flat: &mut Flat, var: VarDecl) {
        if let Some(existing) = flat.vars.iter().find(|v| v.name == var.name) {
            self.diags.push(
                Diagnostic::error(format!(
                    "`{}` is declared twice (as {} and as {})",
                    var.name,
                    existing.kind.with_article(),
                    var.kind.with_article()
                ))
                .at(var.loc)
                .note("first declared here", Some(existing.loc))
                .help("every stock, flow, auxiliary, constant and lookup needs its own name"),
            );
            return;
        }
        flat.vars.push(var);
    }

    fn check_identifier(&mut self, name: &str, loc: Location, what: &str) {
        let mut chars = name.chars();
        let ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.diags.push(
                Diagnostic::error(format!("`{name}` is not a valid {what} name"))
                    .at(loc)
                    .help(
                        "names start with a letter or `_` and contain only letters, digits and `_`",
                    ),
            );
        }
        if ["time", "dt"].contains(&name.to_ascii_lowercase().as_str()) {
            self.diags.push(
                Diagnostic::error(format!("`{name}` is reserved"))
                    .at(loc)
                    .help("TIME and DT are built in; choose another name"),
            );
        }
    }

    fn number_or_equation(&self, file: FileId, v: &Spanned<NumberOrEquation>) -> Definition {
        match v.get_ref() {
            NumberOrEquation::Number(x) => {
                Definition::Values(vec![*x], Location::new(file, v.span().start, v.span().end))
            }
            NumberOrEquation::Equation(s) => Definition::Equation(self.text(file, v.span(), s)),
        }
    }

    fn per_element(
        &mut self,
        file: FileId,
        elements: &IndexMap<Spanned<String>, Spanned<NumberOrEquation>>,
    ) -> Definition {
        let mut out = Vec::new();
        for (key, value) in elements {
            let names: Vec<String> = key
                .get_ref()
                .split(',')
                .map(|s| s.trim().to_string())
                .collect();
            let text = match value.get_ref() {
                NumberOrEquation::Number(x) if !x.is_finite() => {
                    self.diags.push(
                        Diagnostic::error(format!("element value {x} is not a finite number"))
                            .at(Location::new(file, value.span().start, value.span().end))
                            .help("write a finite number, or an equation in quotes"),
                    );
                    continue;
                }
                NumberOrEquation::Number(x) => Text {
                    text: format_number(*x),
                    loc: Location::new(file, value.span().start, value.span().end),
                    offsets: Vec::new(),
                },
                NumberOrEquation::Equation(s) => self.text(file, value.span(), s),
            };
            out.push((
                names,
                Location::new(file, key.span().start, key.span().end),
                text,
            ));
        }
        Definition::PerElement(out)
    }

    /// Locate the content of a TOML string value whose token spans `span`.
    fn text(&self, file: FileId, span: std::ops::Range<usize>, value: &str) -> Text {
        let src = self.sources.text(file);
        let token = src.get(span.clone()).unwrap_or("");
        let mut start = span.start;
        if token.starts_with("\"\"\"") || token.starts_with("'''") {
            start += 3;
            if src[start..].starts_with("\r\n") {
                start += 2;
            } else if src[start..].starts_with('\n') {
                start += 1;
            }
        } else if token.starts_with('"') || token.starts_with('\'') {
            start += 1;
        }
        // Basic strings may hold escapes (`\"`, `\u00e9`, a line-ending `\`): then map each
        // byte of the value back to the file so that errors point at the right column.
        let offsets = if token.starts_with('"') && token.contains(['\\', '\r']) {
            escaped_offsets(src.get(start..span.end).unwrap_or(""), start, value)
        } else {
            Vec::new()
        };
        Text {
            text: value.to_string(),
            loc: Location::new(file, start, start + value.len()),
            offsets,
        }
    }
}

/// The file offset of each byte of `value` (and of its end), given `raw`, the text of the TOML
/// basic string that produced it, starting at file offset `base`. Never panics: on text it
/// does not understand it stops advancing.
fn escaped_offsets(raw: &str, base: usize, value: &str) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(value.len() + 1);
    let mut pos = 0;
    for c in value.chars() {
        // Skip what produces no character: a line-ending backslash with the whitespace and
        // newlines after it, and the `\r` of a `\r\n` that became `\n`.
        loop {
            let rest = raw.get(pos..).unwrap_or("");
            if let Some(after) = rest.strip_prefix('\\') {
                let blanks = after.trim_start_matches([' ', '\t']);
                if blanks.starts_with('\n') || blanks.starts_with("\r\n") {
                    pos = raw.len() - after.trim_start_matches([' ', '\t', '\n', '\r']).len();
                    continue;
                }
            }
            if c == '\n' && rest.starts_with("\r\n") {
                pos += 1;
            }
            break;
        }
        let rest = raw.get(pos..).unwrap_or("");
        let written = match rest.strip_prefix('\\').map(|e| e.chars().next()) {
            Some(Some('u')) => 6,
            Some(Some('U')) => 10,
            Some(Some('x')) => 4,
            Some(Some(e)) => 1 + e.len_utf8(),
            Some(None) => 1,
            None => rest.chars().next().map_or(0, char::len_utf8),
        };
        offsets.extend(std::iter::repeat_n(base + pos, c.len_utf8()));
        pos = (pos + written).min(raw.len());
    }
    offsets.push(base + pos);
    offsets
}

/// A number as equation text that parses back to the same value.
fn format_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x:?}")
    } else {
        format!("{x}")
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Extra advice for common TOML-level mistakes.
fn toml_help(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some("check the spelling; docs/MODEL_FORMAT.md lists every field".into())
    } else if message.contains("missing field") {
        Some("add the missing field; docs/MODEL_FORMAT.md lists the required ones".into())
    } else if message.contains("duplicate key") {
        Some("each name may be declared only once in a table".into())
    } else if message.contains("expected a number or an equation") {
        Some("write a number (0.5) or an equation in quotes (\"a * b\")".into())
    } else if message.contains("expected f64") || message.contains("expected i64") {
        Some("write a number without quotes, e.g. 0.25".into())
    } else if message.contains("expected a sequence") {
        Some("write a list in brackets, e.g. [\"a\", \"b\"] (or [] for none)".into())
    } else if message.contains("expected a boolean") {
        Some("write true or false, without quotes".into())
    } else {
        None
    }
}
