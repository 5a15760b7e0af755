//! XMILE 1.0 file → [`ModelDecl`].
//!
//! Reads sim_specs, dimensions, behavior, the root model's variables (stocks, flows, auxiliaries,
//! graphical functions, arrays with apply-to-all or per-element equations) and expression
//! macros; equations are translated by [`super::equation`]. Unknown elements are warnings;
//! unsupported features (conveyors, dimension mappings, ...) are errors that name them.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use roxmltree::Node;

use super::equation::{self, DimInfo, Macro, Names, Output, VarInfo, canonical_path};
use super::export::CARESHIFT_NS;
use super::names::{canonical, ident};
use super::xml::{self, Located};
use crate::diagnostics::{Diagnostic, Diagnostics, FileId, Location, Sources};
use crate::model::{
    Definition, Dialect, Dimension, LookupData, Method, ModelDecl, Text, TimeField, TimeSettings,
    VarDecl, VarKind,
};

/// Result of an import: the model and the warnings met on the way.
pub type Imported = (ModelDecl, Vec<Diagnostic>);

/// Read an XMILE file into a flat model declaration.
pub fn load(path: &Path, mut sources: Sources) -> Result<Imported, (Diagnostics, Sources)> {
    let fail = |d: Diagnostic, sources: Sources| {
        let mut ds = Diagnostics::new();
        ds.push(d);
        Err((ds, sources))
    };
    let text = match xml::read(path) {
        Ok(t) => t,
        Err(d) => return fail(d, sources),
    };
    let file = sources.add(path, text.clone());
    let (text, shift) = xml::declare_prefixes(&text);
    let doc = match xml::parse(&text, file, shift) {
        Ok(d) => d,
        Err(d) => return fail(d, sources),
    };
    let mut imp = Importer {
        file,
        text: &text,
        shift,
        vensim: false,
        diags: Diagnostics::new(),
        warnings: Vec::new(),
        ns: doc
            .root_element()
            .tag_name()
            .namespace()
            .map(str::to_string),
    };
    let decl = imp.document(doc.root_element(), path);
    match decl {
        Some(mut decl) if !imp.diags.has_errors() => {
            decl.sources = sources;
            Ok((decl, imp.warnings))
        }
        _ => Err((imp.diags, sources)),
    }
}

struct Importer<'t> {
    file: FileId,
    /// The parsed text (the file's, with undeclared prefixes declared: see `shift`).
    text: &'t str,
    shift: xml::Shift,
    /// The header says the file was converted from Vensim.
    vensim: bool,
    diags: Diagnostics,
    warnings: Vec<Diagnostic>,
    /// The XMILE namespace of this file (elements of other namespaces are vendor extensions).
    ns: Option<String>,
}

/// One variable as read from the file, before translation.
struct RawVar<'a, 'input> {
    kind: VarKind,
    /// As written, with its module path (`Sub.Port`).
    name: String,
    /// Canonical, module-qualified (`sub.port`).
    canon: String,
    /// Identifier, module-qualified (`sub.port`).
    ident: String,
    /// Canonical module path its equations are resolved in (`""`, `"sub."`).
    scope: String,
    /// A module input bound by `<connect>`: the parent's expression, its scope and where.
    binding: Option<(Located, String, Location)>,
    loc: Location,
    eqn: Option<(Located, Node<'a, 'input>)>,
    dims: Vec<String>,
    /// Per-element definitions: subscript, where, equation, and the element's own graphical
    /// function if it has one.
    elements: Vec<(String, Location, Located, Option<Node<'a, 'input>>)>,
    inflows: Vec<(String, Location)>,
    outflows: Vec<(String, Location)>,
    non_negative: Option<bool>,
    /// careshift's own non-negative semantics (outflows scaled), kept through an export.
    scale_outflows: bool,
    gf: Option<Node<'a, 'input>>,
    doc: Option<String>,
}

/// Where a model's variables go when it is read as a module.
#[derive(Default)]
struct ModulePath {
    /// Canonical (`sub.`).
    scope: String,
    /// As written (`Sub.`).
    label: String,
    /// Identifiers (`sub.`).
    ident_scope: String,
}

/// What flattening modules collects.
struct Flattening<'m, 'a, 'i> {
    models: &'m HashMap<String, Node<'a, 'i>>,
    /// Models being read (to refuse a module that contains itself).
    stack: Vec<String>,
    raws: Vec<RawVar<'a, 'i>>,
    /// (port's canonical name, the parent's expression, parent scope, location).
    bindings: Vec<(String, Located, String, Location)>,
}

/// sim_specs, dimensions and behavior, as read.
struct Settings {
    time: TimeSettings,
    dimensions: Vec<Dimension>,
    /// Default non-negativity of (stocks, flows).
    behavior: (bool, bool),
}

/// How one equation is translated.
#[derive(Clone, Copy)]
struct EqnContext<'c> {
    /// Canonical dimensions of the variable.
    dims: &'c [String],
    /// Canonical module path names are resolved in.
    scope: &'c str,
    /// Wrap in `max(0, ...)`.
    uniflow: bool,
    /// Wrap in a call of this graphical function.
    gf: Option<&'c str>,
}

/// Most calls of macros with their own variables in one model.
const MAX_MACRO_INSTANCES: usize = 10_000;

/// Deepest module nesting.
const MAX_MODULE_DEPTH: usize = 16;

/// Elements of the XMILE namespace that carry nothing careshift uses.
const IGNORED: &[&str] = &[
    "style",
    "data",
    "model_units",
    "prefs",
    "equation_prefs",
    "views",
    "view",
    "units",
    "options",
    "uses_outputs",
    "product",
    "vendor",
    "smile",
    "uuid",
    "caption",
    "author",
    "version",
    "includes",
    "format",
    "scale",
    "range",
    "event_poster",
    "isee:prefs",
];

impl<'t> Importer<'t> {
    fn loc(&self, node: Node) -> Location {
        let r = node.range();
        let tag_len = 1 + node.tag_name().name().len();
        let start = self.shift.orig(r.start);
        Location::new(self.file, start, start + tag_len.min(r.end - r.start))
    }

    fn is_xmile(&self, node: Node) -> bool {
        node.tag_name().namespace().map(str::to_string) == self.ns
    }

    /// The element children of `node` in the XMILE namespace.
    fn xmile_children<'a, 'i>(&self, node: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
        node.children()
            .filter(|c| c.is_element() && self.is_xmile(*c))
            .collect()
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn unknown(&mut self, node: Node, inside: &str) {
        if !self.is_xmile(node) || IGNORED.contains(&node.tag_name().name()) {
            return;
        }
        self.warnings.push(
            Diagnostic::warning(format!(
                "unknown element <{}> in <{inside}> is ignored",
                node.tag_name().name()
            ))
            .at(self.loc(node)),
        );
    }

    fn child<'a, 'i>(&self, node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
        node.children()
            .find(|c| c.is_element() && c.tag_name().name() == name && self.is_xmile(*c))
    }

    fn number_in(&mut self, node: Node) -> Option<f64> {
        let t = element_text_trimmed(node);
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Some(v),
            _ => {
                self.error(
                    Diagnostic::error(format!(
                        "<{}> must hold a number, not `{t}`",
                        node.tag_name().name()
                    ))
                    .at(self.loc(node)),
                );
                None
            }
        }
    }

    fn document(&mut self, root: Node, path: &Path) -> Option<ModelDecl> {
        if root.tag_name().name() != "xmile" {
            self.error(
                Diagnostic::error(format!(
                    "the root element is <{}>, not <xmile>",
                    root.tag_name().name()
                ))
                .at(self.loc(root))
                .help("an XMILE 1.0 file starts with <xmile version=\"1.0\" xmlns=\"http://docs.oasis-open.org/xmile/ns/XMILE/v1.0\">"),
            );
            return None;
        }
        let mut name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut sim_specs = None;
        let mut dims_node = None;
        let mut behavior = (false, false);
        let mut models = Vec::new();
        let mut macros = Vec::new();
        for c in root.children().filter(|c| c.is_element()) {
            if !self.is_xmile(c) {
                continue;
            }
            match c.tag_name().name() {
                "header" => {
                    self.vensim = c
                        .descendants()
                        .filter(|n| matches!(n.tag_name().name(), "vendor" | "product"))
                        .filter_map(|n| n.text())
                        .any(|t| {
                            let t = t.to_ascii_lowercase();
                            ["vensim", "ventana", "xmutil"]
                                .iter()
                                .any(|w| t.contains(w))
                        });
                    if let Some(n) = self.child(c, "name") {
                        let t = element_text_trimmed(n);
                        if !t.is_empty() {
                            name = t;
                        }
                    }
                }
                "sim_specs" => sim_specs = Some(c),
                "dimensions" => dims_node = Some(c),
                "behavior" => behavior = self.behavior(c),
                "model" => models.push(c),
                "macro" => macros.push(c),
                _ => self.unknown(c, "xmile"),
            }
        }
        let time = self.sim_specs(sim_specs, root)?;
        let dimensions = dims_node.map(|d| self.dimensions(d)).unwrap_or_default();
        let Some(&model) = models
            .iter()
            .find(|m| m.attribute("name").is_none())
            .or(models.first())
        else {
            self.error(
                Diagnostic::error("the file has no <model>")
                    .at(self.loc(root))
                    .help("an XMILE file holds its variables in <model><variables>...</variables></model>"),
            );
            return None;
        };
        let macro_nodes: HashMap<String, Node> = macros
            .iter()
            .filter_map(|m| m.attribute("name").map(|n| (canonical(n), *m)))
            .collect();
        let macros = self.macros(&macros);
        let by_name: HashMap<String, Node> = models
            .iter()
            .filter_map(|m| m.attribute("name").map(|n| (canonical(n), *m)))
            .collect();
        let settings = Settings {
            time,
            dimensions,
            behavior,
        };
        self.model(model, &by_name, &macro_nodes, name, settings, macros)
    }

    /// `<behavior>`: default non-negativity of (stocks, flows).
    fn behavior(&mut self, node: Node) -> (bool, bool) {
        let mut out = (false, false);
        for c in node.children().filter(|c| c.is_element()) {
            match c.tag_name().name() {
                "non_negative" => {
                    let v = self.flag(c);
                    out = (v, v);
                }
                "stock" | "flow" => {
                    let v = self.child(c, "non_negative").map(|n| self.flag(n));
                    if let Some(v) = v {
                        if c.tag_name().name() == "stock" {
                            out.0 = v;
                        } else {
                            out.1 = v;
                        }
                    }
                }
                _ => self.unknown(c, "behavior"),
            }
        }
        out
    }

    /// An empty element, or one holding true/false.
    fn flag(&mut self, node: Node) -> bool {
        let t = element_text_trimmed(node).to_ascii_lowercase();
        match t.as_str() {
            "" | "true" => true,
            "false" => false,
            _ => {
                self.error(
                    Diagnostic::error(format!(
                        "<{}> holds `{t}`; expected nothing, true or false",
                        node.tag_name().name()
                    ))
                    .at(self.loc(node)),
                );
                false
            }
        }
    }

    fn sim_specs(&mut self, node: Option<Node>, root: Node) -> Option<TimeSettings> {
        let Some(node) = node else {
            self.error(
                Diagnostic::error("the file has no <sim_specs>")
                    .at(self.loc(root))
                    .help("add <sim_specs><start>0</start><stop>10</stop><dt>1</dt></sim_specs>"),
            );
            return None;
        };
        let mut t = TimeSettings {
            start: 0.0,
            stop: 10.0,
            dt: 1.0,
            save_step: f64::NAN,
            units: node
                .attribute("time_units")
                .unwrap_or("")
                .trim()
                .to_string(),
            method: Method::Euler,
            rtol: 1e-6,
            atol: 1e-6,
        };
        if let Some(m) = node.attribute("method") {
            t.method = match m.trim().to_ascii_lowercase().as_str() {
                "euler" => Method::Euler,
                "rk4" => Method::Rk4,
                "rk45" => {
                    self.warnings.push(
                        Diagnostic::warning("method RK45 is run with careshift's adaptive Dormand–Prince 5(4) (dopri5)")
                            .at(self.loc(node)),
                    );
                    Method::Dopri5
                }
                other => {
                    self.error(
                        Diagnostic::error(format!("integration method `{other}` is not supported"))
                            .at(self.loc(node))
                            .help("use Euler, RK4 or RK45"),
                    );
                    Method::Euler
                }
            };
        }
        for c in self.xmile_children(node) {
            match c.tag_name().name() {
                "start" => t.start = self.number_in(c)?,
                "stop" => t.stop = self.number_in(c)?,
                "dt" => {
                    let v = self.number_in(c)?;
                    let reciprocal = c
                        .attribute("reciprocal")
                        .is_some_and(|r| r.trim().eq_ignore_ascii_case("true"));
                    t.dt = if reciprocal { 1.0 / v } else { v };
                }
                "save_interval" | "savestep" => t.save_step = self.number_in(c)?,
                _ => self.unknown(c, "sim_specs"),
            }
        }
        let save = node.attributes().find(|a| {
            a.name() == "save_interval"
                || (a.namespace() == Some(CARESHIFT_NS) && a.name() == "save_step")
        });
        if let Some(v) = save.and_then(|a| a.value().trim().parse::<f64>().ok()) {
            t.save_step = v;
        }
        let valid = t.dt > 0.0 && t.dt.is_finite() && t.stop > t.start;
        if !valid {
            self.error(
                Diagnostic::error(format!(
                    "sim_specs: need start < stop and dt > 0 (start = {}, stop = {}, dt = {})",
                    t.start, t.stop, t.dt
                ))
                .at(self.loc(node)),
            );
            return None;
        }
        if t.save_step.is_nan() || t.save_step <= 0.0 {
            t.save_step = t.dt;
        }
        Some(t)
    }

    fn dimensions(&mut self, node: Node) -> Vec<Dimension> {
        let mut out: Vec<Dimension> = Vec::new();
        for d in node.children().filter(|c| c.is_element()) {
            if d.tag_name().name() != "dim" {
                self.unknown(d, "dimensions");
                continue;
            }
            let Some(name) = d.attribute("name") else {
                self.error(Diagnostic::error("<dim> without a name").at(self.loc(d)));
                continue;
            };
            let mut elements: Vec<String> = d
                .children()
                .filter(|c| c.is_element() && c.tag_name().name() == "elem")
                .filter_map(|c| c.attribute("name").map(|n| n.trim().to_string()))
                .collect();
            if elements.is_empty()
                && let Some(size) = d.attribute("size")
            {
                match size.trim().parse::<usize>() {
                    Ok(n) if (1..=1_000_000).contains(&n) => {
                        elements = (1..=n).map(|i| i.to_string()).collect();
                    }
                    _ => self.error(
                        Diagnostic::error(format!("<dim size=\"{size}\">: the size must be a whole number from 1 to 1000000"))
                            .at(self.loc(d)),
                    ),
                }
            }
            if elements.is_empty() {
                self.error(
                    Diagnostic::error(format!("dimension `{name}` has no elements"))
                        .at(self.loc(d))
                        .help("list them as <elem name=\"...\"/> or give size=\"N\""),
                );
                continue;
            }
            let canon: HashSet<String> = elements.iter().map(|e| canonical(e)).collect();
            if canon.len() != elements.len() {
                self.error(
                    Diagnostic::error(format!("dimension `{name}` lists an element twice"))
                        .at(self.loc(d)),
                );
                continue;
            }
            if out.iter().any(|o| canonical(&o.name) == canonical(name)) {
                self.error(
                    Diagnostic::error(format!("dimension `{name}` is defined twice"))
                        .at(self.loc(d)),
                );
                continue;
            }
            out.push(Dimension {
                name: name.to_string(),
                elements,
                loc: self.loc(d),
            });
        }
        out
    }

    fn macros(&mut self, nodes: &[Node]) -> HashMap<String, Macro> {
        let mut out = HashMap::new();
        for m in nodes {
            let Some(name) = m.attribute("name") else {
                self.error(Diagnostic::error("<macro> without a name").at(self.loc(*m)));
                continue;
            };
            let params = m
                .children()
                .filter(|c| c.is_element() && c.tag_name().name() == "parm")
                .map(|p| canonical(&element_text_trimmed(p)))
                .collect();
            let Some(eqn) = self.child(*m, "eqn") else {
                self.error(
                    Diagnostic::error(format!("macro `{name}` has no <eqn>")).at(self.loc(*m)),
                );
                continue;
            };
            out.insert(
                canonical(name),
                Macro {
                    params,
                    body: xml::element_text(eqn, self.text, self.shift),
                    file: self.file,
                    stateful: self.child(*m, "variables").is_some(),
                },
            );
        }
        out
    }

    /// Read the variables of `model` under module path `path`, and, recursively, of the
    /// models its `<module>`s instantiate, into `flat`.
    fn collect<'a, 'i>(
        &mut self,
        model: Node<'a, 'i>,
        path: &ModulePath,
        flat: &mut Flattening<'_, 'a, 'i>,
    ) {
        let ModulePath {
            scope,
            label,
            ident_scope,
        } = path;
        for c in self.xmile_children(model) {
            if c.tag_name().name() != "variables" {
                self.unknown(c, "model");
                continue;
            }
            for v in c.children().filter(|v| v.is_element()) {
                if v.tag_name().name() == "module" && self.is_xmile(v) {
                    self.module(v, path, flat);
                    continue;
                }
                if let Some(mut raw) = self.variable(v) {
                    raw.name = format!("{label}{}", raw.name);
                    raw.canon = format!("{scope}{}", raw.canon);
                    raw.ident = format!("{ident_scope}{}", raw.ident);
                    raw.scope = scope.to_string();
                    flat.raws.push(raw);
                }
            }
        }
    }

    fn module<'a, 'i>(
        &mut self,
        m: Node<'a, 'i>,
        path: &ModulePath,
        flat: &mut Flattening<'_, 'a, 'i>,
    ) {
        let ModulePath {
            scope,
            label,
            ident_scope,
        } = path;
        let Some(name) = m.attribute("name") else {
            self.error(Diagnostic::error("<module> without a name").at(self.loc(m)));
            return;
        };
        if let Some(r) = m.attribute("resource") {
            self.error(
                Diagnostic::error(format!("module `{name}` is in another file (resource=\"{r}\"): modules in other files are not supported yet"))
                    .at(self.loc(m))
                    .help("put the module's <model> into this file"),
            );
            return;
        }
        // The model it instantiates: `model_name` (in any namespace, as Simlin writes it), else
        // the module's own name.
        let model_name = m
            .attributes()
            .find(|a| a.name() == "model_name")
            .map_or(name, |a| a.value());
        let key = canonical(model_name);
        let Some(&sub) = flat.models.get(&key) else {
            self.error(
                Diagnostic::error(format!(
                    "module `{name}` refers to model `{model_name}`, which the file does not define"
                ))
                .at(self.loc(m))
                .help("add <model name=\"...\"> with its variables"),
            );
            return;
        };
        if flat.stack.contains(&key) || flat.stack.len() >= MAX_MODULE_DEPTH {
            self.error(
                Diagnostic::error(format!("module `{name}` contains itself (or modules nest more than {MAX_MODULE_DEPTH} deep)"))
                    .at(self.loc(m)),
            );
            return;
        }
        let inner_scope = format!("{scope}{}.", canonical(name));
        let inner_label = format!("{label}{}.", name.trim());
        let inner_ident = format!("{ident_scope}{}.", ident(&canonical(name)));
        for c in self.xmile_children(m) {
            if !matches!(c.tag_name().name(), "connect" | "connect2") {
                self.unknown(c, "module");
                continue;
            }
            if c.tag_name().name() == "connect2" {
                continue;
            }
            let (Some(to), Some(from)) = (c.attribute_node("to"), c.attribute_node("from")) else {
                self.error(Diagnostic::error("<connect> needs `to` and `from`").at(self.loc(c)));
                continue;
            };
            // `to` names the port inside the module, with or without the module's name.
            let to_canon = equation::canonical_path(to.value());
            let own = format!("{}.", canonical(name));
            let port = to_canon.strip_prefix(&own).unwrap_or(&to_canon).to_string();
            let range = from.range_value();
            let value = from.value().trim_start_matches('.');
            let skipped = from.value().len() - value.len();
            let start = self.shift.orig(range.start) + skipped;
            let offsets = if range.end - range.start == from.value().len() {
                (0..=value.len()).map(|i| start + i).collect()
            } else {
                vec![start; value.len() + 1]
            };
            let at = Location::new(
                self.file,
                self.shift.orig(range.start),
                self.shift.orig(range.end),
            );
            flat.bindings.push((
                format!("{inner_scope}{port}"),
                Located {
                    text: value.to_string(),
                    offsets,
                },
                scope.to_string(),
                at,
            ));
        }
        flat.stack.push(key);
        let inner = ModulePath {
            scope: inner_scope,
            label: inner_label,
            ident_scope: inner_ident,
        };
        self.collect(sub, &inner, flat);
        flat.stack.pop();
    }

    fn model(
        &mut self,
        model: Node,
        models: &HashMap<String, Node>,
        macro_nodes: &HashMap<String, Node>,
        name: String,
        settings: Settings,
        macros: HashMap<String, Macro>,
    ) -> Option<ModelDecl> {
        let Settings {
            time,
            dimensions,
            behavior,
        } = settings;
        let mut flat = Flattening {
            models,
            stack: Vec::new(),
            raws: Vec::new(),
            bindings: Vec::new(),
        };
        self.collect(model, &ModulePath::default(), &mut flat);
        let Flattening {
            mut raws, bindings, ..
        } = flat;
        for (to, from, parent_scope, at) in bindings {
            match raws.iter_mut().find(|r| r.canon == to) {
                Some(r) => r.binding = Some((from, parent_scope, at)),
                None => self.error(
                    Diagnostic::error(format!(
                        "<connect to=\"...\">: the module has no variable `{to}`"
                    ))
                    .at(at),
                ),
            }
        }
        let dim_names: HashMap<String, DimInfo> = dimensions
            .iter()
            .map(|d| {
                let c = canonical(&d.name);
                (
                    c.clone(),
                    DimInfo {
                        ident: ident(&c),
                        elements: d.elements.clone(),
                    },
                )
            })
            .collect();
        let mut names = Names {
            vars: HashMap::new(),
            dims: dim_names,
            macros,
            start: time.start,
            stop: time.stop,
            instances: Default::default(),
            vensim: self.vensim,
        };
        let mut first_at: HashMap<String, Location> = HashMap::new();
        for r in &raws {
            if let Some(prev) = first_at.get(&r.canon) {
                self.error(
                    Diagnostic::error(format!(
                        "`{}` is defined twice (names ignore case, and spaces equal underscores)",
                        r.name
                    ))
                    .at(r.loc)
                    .note("first defined here", Some(*prev)),
                );
                continue;
            }
            first_at.insert(r.canon.clone(), r.loc);
            for d in &r.dims {
                if !names.dims.contains_key(d) {
                    self.error(
                        Diagnostic::error(format!(
                            "`{}` uses dimension `{d}`, which <dimensions> does not define",
                            r.name
                        ))
                        .at(r.loc),
                    );
                }
            }
            let lookup = match (r.kind, r.gf.is_some()) {
                (VarKind::Lookup, _) => Some(r.ident.clone()),
                (_, true) => Some(format!("{}__gf", r.ident)),
                _ => None,
            };
            names.vars.insert(
                r.canon.clone(),
                VarInfo {
                    ident: r.ident.clone(),
                    dims: r.dims.clone(),
                    lookup,
                },
            );
        }
        if self.diags.has_errors() {
            return None;
        }
        let mut dialect = Dialect {
            units_unchecked: true,
            ..Dialect::default()
        };
        let mut vars = Vec::new();
        for r in &raws {
            if let Some(v) = self.declare(r, &names, behavior, &mut vars, &mut dialect) {
                // XMILE writes a newline inside a name as `\n`; the output name has a space.
                let label = r.name.replace("\\n", " ");
                if v.name != label {
                    dialect.labels.insert(v.name.clone(), label);
                }
                vars.push(v);
            }
        }
        self.macro_instances(macro_nodes, &mut names, behavior, &mut vars, &mut dialect);
        // Vensim's control variables, which converted models and reference outputs use.
        // They stand for the run's time settings (model::TimeField): the simulator sets them
        // from the run's, whether the file defines them or they are added here.
        let control = [
            ("INITIAL TIME", TimeField::Start),
            ("FINAL TIME", TimeField::Stop),
            ("TIME STEP", TimeField::Dt),
            ("SAVEPER", TimeField::SaveStep),
        ];
        for (label, field) in control {
            let c = canonical(label);
            dialect.time_constants.push((ident(&c), field));
            let value = field.of(&time);
            if !names.vars.contains_key(&c) {
                let name = ident(&c);
                dialect.labels.insert(name.clone(), label.to_string());
                vars.push(VarDecl {
                    name,
                    kind: VarKind::Constant,
                    dims: Vec::new(),
                    def: Definition::Values(vec![value], self.loc(model)),
                    units: None,
                    doc: Some("the run's time setting (Vensim control variable)".into()),
                    source: None,
                    range: None,
                    inflows: Vec::new(),
                    outflows: Vec::new(),
                    non_negative: false,
                    scope: String::new(),
                    loc: self.loc(model),
                });
            }
        }
        let dimensions = dimensions
            .into_iter()
            .map(|d| Dimension {
                name: ident(&canonical(&d.name)),
                ..d
            })
            .collect();
        Some(ModelDecl {
            name,
            doc: None,
            time,
            dimensions,
            vars,
            sources: Sources::new(),
            dialect,
        })
    }

    /// Declare the variables of every call of a macro with its own variables (instances are
    /// found while translating, also inside instances, so this runs until none is left).
    fn macro_instances(
        &mut self,
        macro_nodes: &HashMap<String, Node>,
        names: &mut Names,
        behavior: (bool, bool),
        vars: &mut Vec<VarDecl>,
        dialect: &mut Dialect,
    ) {
        let mut next = 0;
        while next < names.instances.borrow().len() {
            if next >= MAX_MACRO_INSTANCES {
                self.error(Diagnostic::error(format!(
                    "more than {MAX_MACRO_INSTANCES} calls of macros with their own variables"
                )));
                return;
            }
            let (macro_name, instance, caller_scope, args, at, dims) = {
                let list = names.instances.borrow();
                let i = &list[next];
                (
                    i.macro_name.clone(),
                    i.name.clone(),
                    i.caller_scope.clone(),
                    i.args.clone(),
                    i.at,
                    i.dims.clone(),
                )
            };
            next += 1;
            let Some(&node) = macro_nodes.get(&macro_name) else {
                continue;
            };
            let ident_path = |scope: &str| -> String {
                scope
                    .split_terminator('.')
                    .map(|p| format!("{}.", ident(p)))
                    .collect()
            };
            let caller_ident = ident_path(&caller_scope);
            let path = ModulePath {
                scope: format!("{caller_scope}{instance}."),
                label: format!("{caller_ident}{}.", ident(&instance)),
                ident_scope: format!("{caller_ident}{}.", ident(&instance)),
            };
            let call_loc = Location::new(self.file, at.0, at.1.max(at.0));
            let mut raws = Vec::new();
            for c in self.xmile_children(node) {
                if c.tag_name().name() != "variables" {
                    continue;
                }
                for v in c.children().filter(|v| v.is_element()) {
                    if let Some(mut raw) = self.variable(v) {
                        // Called from an arrayed equation: one instance per element.
                        if !dims.is_empty() {
                            if !raw.dims.is_empty() {
                                self.error(
                                    Diagnostic::error(format!(
                                        "macro `{macro_name}` has an arrayed variable `{}`: calling it from an arrayed equation is not supported",
                                        raw.name
                                    ))
                                    .at(call_loc),
                                );
                                return;
                            }
                            raw.dims = dims.clone();
                        }
                        raw.name = format!("{}{}", path.label, raw.name);
                        raw.canon = format!("{}{}", path.scope, raw.canon);
                        raw.ident = format!("{}{}", path.ident_scope, raw.ident);
                        raw.scope = path.scope.clone();
                        raws.push(raw);
                    }
                }
            }
            for r in &raws {
                let lookup = r.gf.map(|_| {
                    if r.kind == VarKind::Lookup {
                        r.ident.clone()
                    } else {
                        format!("{}__gf", r.ident)
                    }
                });
                names.vars.insert(
                    r.canon.clone(),
                    VarInfo {
                        ident: r.ident.clone(),
                        dims: r.dims.clone(),
                        lookup,
                    },
                );
            }
            let dim_idents: Vec<String> = dims.iter().map(|d| ident(d)).collect();
            let scalar = |name: String, def: Definition, scope: String, loc: Location| VarDecl {
                name,
                kind: VarKind::Auxiliary,
                dims: dim_idents.clone(),
                def,
                units: None,
                doc: None,
                source: None,
                range: None,
                inflows: Vec::new(),
                outflows: Vec::new(),
                non_negative: false,
                scope,
                loc,
            };
            // Parameters: the call's arguments, in the caller's scope.
            for (param, out) in args {
                let key = format!("{}{param}", path.scope);
                if names.vars.contains_key(&key) {
                    continue;
                }
                let name = format!("{}{}", path.ident_scope, ident(&param));
                names.vars.insert(
                    key,
                    VarInfo {
                        ident: name.clone(),
                        dims: dims.clone(),
                        lookup: None,
                    },
                );
                let first = out.offsets.first().copied().unwrap_or(at.0);
                let last = out.offsets.last().copied().unwrap_or(first);
                let text = Text {
                    text: out.text,
                    loc: Location::new(self.file, first, last.max(first)),
                    offsets: out.offsets,
                };
                vars.push(scalar(
                    name,
                    Definition::Equation(text),
                    caller_ident.clone(),
                    call_loc,
                ));
            }
            // The call's value: the macro's equation, among its variables.
            if let Some(eqn) = self.child(node, "eqn") {
                let body = xml::element_text(eqn, self.text, self.shift);
                let ctx = EqnContext {
                    dims: &dims,
                    scope: &path.scope,
                    uniflow: false,
                    gf: None,
                };
                if let Some(text) = self.equation(&body, names, &ctx, self.loc(eqn)) {
                    let name = format!("{}{}", path.ident_scope, equation::MACRO_VALUE);
                    vars.push(scalar(
                        name,
                        Definition::Equation(text),
                        path.ident_scope.clone(),
                        call_loc,
                    ));
                }
            }
            for r in &raws {
                if let Some(v) = self.declare(r, names, behavior, vars, dialect) {
                    vars.push(v);
                }
            }
        }
    }

    /// Read one child of `<variables>`.
    fn variable<'a, 'i>(&mut self, v: Node<'a, 'i>) -> Option<RawVar<'a, 'i>> {
        let kind = match v.tag_name().name() {
            _ if !self.is_xmile(v) => return None,
            "stock" => VarKind::Stock,
            "flow" => VarKind::Flow,
            "aux" => VarKind::Auxiliary,
            "gf" => VarKind::Lookup,
            "module" => return None,
            "group" => return None,
            _ => {
                self.unknown(v, "variables");
                return None;
            }
        };
        let Some(name) = v.attribute("name") else {
            self.error(
                Diagnostic::error(format!("<{}> without a name", v.tag_name().name()))
                    .at(self.loc(v)),
            );
            return None;
        };
        let name = name.trim().to_string();
        let canon = canonical(&name);
        if canon.is_empty() {
            self.error(Diagnostic::error("a variable's name is empty").at(self.loc(v)));
            return None;
        }
        let loc = match v.attribute_node("name") {
            Some(a) => Location::new(
                self.file,
                self.shift.orig(a.range_value().start),
                self.shift.orig(a.range_value().end),
            ),
            None => self.loc(v),
        };
        let mut raw = RawVar {
            kind,
            ident: ident(&canon),
            canon,
            name,
            scope: String::new(),
            binding: None,
            loc,
            eqn: None,
            dims: Vec::new(),
            elements: Vec::new(),
            inflows: Vec::new(),
            outflows: Vec::new(),
            non_negative: None,
            scale_outflows: v.attributes().any(|a| {
                a.namespace() == Some(CARESHIFT_NS)
                    && a.name() == "non_negative"
                    && a.value() == "scale_outflows"
            }),
            gf: if kind == VarKind::Lookup {
                Some(v)
            } else {
                None
            },
            doc: None,
        };
        for c in self.xmile_children(v) {
            match (c.tag_name().name(), kind) {
                ("eqn", _) => raw.eqn = Some((xml::element_text(c, self.text, self.shift), c)),
                ("doc", _) => raw.doc = Some(element_text_trimmed(c)),
                ("units", _) => {}
                ("dimensions", _) => {
                    raw.dims = c
                        .children()
                        .filter(|d| d.is_element() && d.tag_name().name() == "dim")
                        .filter_map(|d| d.attribute("name"))
                        .map(canonical)
                        .collect();
                }
                ("element", _) => {
                    let sub = c.attribute("subscript").unwrap_or("").to_string();
                    let gf = self.child(c, "gf");
                    match self.child(c, "eqn") {
                        Some(e) => raw.elements.push((
                            sub,
                            self.loc(c),
                            xml::element_text(e, self.text, self.shift),
                            gf,
                        )),
                        None => self.error(
                            Diagnostic::error(format!(
                                "<element subscript=\"{sub}\"> has no <eqn>"
                            ))
                            .at(self.loc(c)),
                        ),
                    }
                }
                ("inflow", VarKind::Stock) | ("outflow", VarKind::Stock) => {
                    let t = element_text_trimmed(c);
                    let t = t.trim_matches('"').to_string();
                    let at = self.loc(c);
                    if c.tag_name().name() == "inflow" {
                        raw.inflows.push((t, at));
                    } else {
                        raw.outflows.push((t, at));
                    }
                }
                ("conveyor" | "queue" | "oven", VarKind::Stock) => self.error(
                    Diagnostic::error(format!(
                        "stock `{}` is a {}: conveyors, queues and ovens are not supported yet",
                        raw.name,
                        c.tag_name().name()
                    ))
                    .at(self.loc(c)),
                ),
                ("non_negative", VarKind::Stock | VarKind::Flow) => {
                    raw.non_negative = Some(self.flag(c))
                }
                ("gf", VarKind::Auxiliary | VarKind::Flow) => raw.gf = Some(c),
                ("xpts" | "ypts" | "xscale" | "yscale", VarKind::Lookup) => {}
                ("range" | "scale" | "format" | "event_poster", _) => {}
                _ => self.unknown(c, v.tag_name().name()),
            }
        }
        Some(raw)
    }

    fn declare(
        &mut self,
        r: &RawVar,
        names: &Names,
        behavior: (bool, bool),
        vars: &mut Vec<VarDecl>,
        dialect: &mut Dialect,
    ) -> Option<VarDecl> {
        let mut decl = VarDecl {
            name: r.ident.clone(),
            kind: r.kind,
            dims: r.dims.iter().map(|d| ident(d)).collect(),
            def: Definition::Values(vec![0.0], r.loc),
            units: None,
            doc: r.doc.clone().filter(|d| !d.is_empty()),
            source: None,
            range: None,
            inflows: Vec::new(),
            outflows: Vec::new(),
            non_negative: false,
            scope: r
                .ident
                .rsplit_once('.')
                .map_or(String::new(), |(s, _)| format!("{s}.")),
            loc: r.loc,
        };
        if let Some((from, parent_scope, at)) = &r.binding {
            // A module input: its value is the parent's expression, in the parent's scope.
            let parent_ident: String = parent_scope
                .split_terminator('.')
                .map(|p| format!("{}.", ident(p)))
                .collect();
            let text = self.equation(
                from,
                names,
                &EqnContext {
                    dims: &r.dims,
                    scope: parent_scope,
                    uniflow: false,
                    gf: None,
                },
                *at,
            )?;
            decl.scope = parent_ident;
            decl.kind = if r.kind == VarKind::Flow {
                VarKind::Flow
            } else {
                VarKind::Auxiliary
            };
            decl.def = Definition::Equation(text);
            return Some(decl);
        }
        if let Some(gf) = r.gf {
            let data = self.graphical_function(gf)?;
            if r.kind == VarKind::Lookup {
                decl.def = Definition::Lookup(data);
                return Some(decl);
            }
            let mut table = decl.clone();
            table.name = format!("{}__gf", r.ident);
            table.kind = VarKind::Lookup;
            table.dims = Vec::new();
            table.doc = None;
            table.def = Definition::Lookup(data);
            vars.push(table);
        }
        let uniflow = r.kind == VarKind::Flow && r.non_negative.unwrap_or(behavior.1);
        if r.kind == VarKind::Stock {
            if r.scale_outflows {
                decl.non_negative = true;
            } else if r.non_negative.unwrap_or(behavior.0) {
                dialect.clamped_stocks.insert(r.ident.clone());
            }
            for (list, out) in [
                (&r.inflows, &mut decl.inflows),
                (&r.outflows, &mut decl.outflows),
            ] {
                for (f, at) in list {
                    let c = format!("{}{}", r.scope, canonical_path(f));
                    match names.vars.get(&c) {
                        Some(info) => out.push((info.ident.clone(), *at)),
                        None => {
                            self.error(
                                Diagnostic::error(format!(
                                    "`{}` lists flow `{f}`, which is not defined",
                                    r.name
                                ))
                                .at(*at),
                            );
                        }
                    }
                }
            }
        }
        // The call is written in the variable's own scope: the table's local name.
        let local = r.ident.rsplit('.').next().unwrap_or(&r.ident);
        let gf_call = r.gf.map(|_| format!("{local}__gf"));
        let own = EqnContext {
            dims: &r.dims,
            scope: &r.scope,
            uniflow,
            gf: gf_call.as_deref(),
        };
        if !r.elements.is_empty() {
            let mut defs = Vec::new();
            for (k, (sub, at, eqn, gf)) in r.elements.iter().enumerate() {
                let key = self.element_key(sub, &r.dims, names, *at)?;
                // An element's own graphical function: a table of its own, applied to its
                // equation.
                let table = match gf {
                    Some(gf) => {
                        let data = self.graphical_function(*gf)?;
                        let mut table = decl.clone();
                        table.name = format!("{}__gf{}", r.ident, k + 1);
                        table.kind = VarKind::Lookup;
                        table.dims = Vec::new();
                        table.doc = None;
                        table.def = Definition::Lookup(data);
                        let local = table
                            .name
                            .rsplit('.')
                            .next()
                            .unwrap_or(&table.name)
                            .to_string();
                        vars.push(table);
                        Some(local)
                    }
                    None => None,
                };
                let ctx = EqnContext {
                    gf: table.as_deref().or(own.gf),
                    ..own
                };
                let text = self.equation(eqn, names, &ctx, *at)?;
                defs.push((key, *at, text));
            }
            decl.def = Definition::PerElement(defs);
            return Some(decl);
        }
        let Some((eqn, eqn_node)) = &r.eqn else {
            self.error(
                Diagnostic::error(format!("{} `{}` has no <eqn>", r.kind.describe(), r.name))
                    .at(r.loc)
                    .help("give it an equation: <eqn>...</eqn>"),
            );
            return None;
        };
        let at = self.loc(*eqn_node);
        let trimmed = eqn.text.trim();
        // Literal numbers: auxiliaries that are numbers are constants (settable with --set).
        if r.kind == VarKind::Auxiliary && gf_call.is_none() {
            let parts: Vec<&str> = trimmed.split(',').map(str::trim).collect();
            let values: Option<Vec<f64>> = parts
                .iter()
                .map(|p| p.parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect();
            if let Some(values) = values {
                let size: usize = r
                    .dims
                    .iter()
                    .filter_map(|d| names.dims.get(d))
                    .map(|d| d.elements.len())
                    .product();
                if values.len() == 1 || values.len() == size {
                    decl.kind = VarKind::Constant;
                    decl.def = Definition::Values(values, at);
                    return Some(decl);
                }
            }
        }
        let text = self.equation(eqn, names, &own, at)?;
        decl.def = Definition::Equation(text);
        Some(decl)
    }

    /// Translate one `<eqn>`, wrapped in `max(0, ...)` for a uniflow and in the variable's own
    /// graphical function if it has one.
    fn equation(
        &mut self,
        eqn: &Located,
        names: &Names,
        ctx: &EqnContext,
        at: Location,
    ) -> Option<Text> {
        let EqnContext {
            dims,
            scope,
            uniflow,
            gf,
        } = *ctx;
        let trimmed = eqn.text.trim();
        if trimmed.is_empty() {
            self.error(
                Diagnostic::error("the equation is empty")
                    .at(at)
                    .help("write an expression in <eqn>"),
            );
            return None;
        }
        if trimmed.contains("???") {
            let start = eqn.text.find("???").unwrap_or(0);
            self.error(
                Diagnostic::error("the equation is `???`: a placeholder left by a Vensim-to-XMILE conversion (xmutil) where the original equation could not be expressed")
                    .at(eqn.location(self.file, start, start + 3))
                    .help("write the equation, or the array's <element subscript=\"...\"> definitions, into the file"),
            );
            return None;
        }
        let out = match equation::translate(eqn, self.file, names, dims, scope) {
            Ok(o) => o,
            Err(d) => {
                self.error(d);
                return None;
            }
        };
        let out = wrap(out, gf);
        let out = if uniflow { wrap_max0(out) } else { out };
        let first = out.offsets.first().copied().unwrap_or(at.start);
        let last = out.offsets.last().copied().unwrap_or(at.end);
        Some(Text {
            text: out.text,
            loc: Location::new(self.file, first, last.max(first)),
            offsets: out.offsets,
        })
    }

    /// The element names (one per dimension) of `<element subscript="a, b">`.
    fn element_key(
        &mut self,
        sub: &str,
        dims: &[String],
        names: &Names,
        at: Location,
    ) -> Option<Vec<String>> {
        let parts: Vec<&str> = sub.split(',').map(str::trim).collect();
        if parts.len() != dims.len() {
            self.error(
                Diagnostic::error(format!(
                    "subscript=\"{sub}\" names {} element(s), but the variable has {} dimension(s)",
                    parts.len(),
                    dims.len()
                ))
                .at(at),
            );
            return None;
        }
        let mut key = Vec::new();
        for (p, d) in parts.iter().zip(dims) {
            let info = names.dims.get(d)?;
            let c = canonical(p);
            match info.elements.iter().find(|e| canonical(e) == c) {
                Some(e) => key.push(e.clone()),
                None => {
                    self.error(
                        Diagnostic::error(format!("`{p}` is not an element of dimension `{d}`"))
                            .at(at),
                    );
                    return None;
                }
            }
        }
        Some(key)
    }

    fn graphical_function(&mut self, gf: Node) -> Option<LookupData> {
        let kind = gf
            .attribute("type")
            .unwrap_or("continuous")
            .trim()
            .to_ascii_lowercase();
        let (extrapolate, discrete) = match kind.as_str() {
            "continuous" | "" => (false, false),
            "extrapolate" => (true, false),
            "discrete" => (false, true),
            other => {
                self.error(
                    Diagnostic::error(format!("unknown graphical function type `{other}`"))
                        .at(self.loc(gf)),
                );
                return None;
            }
        };
        let ys = match self.child(gf, "ypts") {
            Some(n) => self.points(n)?,
            None => {
                self.error(Diagnostic::error("graphical function without <ypts>").at(self.loc(gf)));
                return None;
            }
        };
        let xs = match (self.child(gf, "xpts"), self.child(gf, "xscale")) {
            (Some(n), _) => self.points(n)?,
            (None, Some(s)) => {
                let min = s
                    .attribute("min")
                    .and_then(|v| v.trim().parse::<f64>().ok());
                let max = s
                    .attribute("max")
                    .and_then(|v| v.trim().parse::<f64>().ok());
                let (Some(min), Some(max)) = (min, max) else {
                    self.error(
                        Diagnostic::error("<xscale> needs numeric min and max").at(self.loc(s)),
                    );
                    return None;
                };
                let n = ys.len();
                (0..n)
                    .map(|i| {
                        if n == 1 {
                            min
                        } else {
                            min + (max - min) * i as f64 / (n - 1) as f64
                        }
                    })
                    .collect()
            }
            (None, None) => {
                self.error(
                    Diagnostic::error("graphical function without <xpts> or <xscale>")
                        .at(self.loc(gf))
                        .help("give the x values (<xpts>) or their range (<xscale min=\"..\" max=\"..\"/>)"),
                );
                return None;
            }
        };
        if xs.len() != ys.len() || xs.is_empty() {
            self.error(
                Diagnostic::error(format!(
                    "graphical function: {} x values but {} y values",
                    xs.len(),
                    ys.len()
                ))
                .at(self.loc(gf)),
            );
            return None;
        }
        if xs.windows(2).any(|w| w[1] <= w[0]) {
            self.error(
                Diagnostic::error("graphical function: the x values must increase")
                    .at(self.loc(gf)),
            );
            return None;
        }
        Some(LookupData {
            // One point: a constant (there is no segment to extend).
            extrapolate: extrapolate && xs.len() > 1,
            discrete,
            xs,
            ys,
            x_units: None,
        })
    }

    fn points(&mut self, node: Node) -> Option<Vec<f64>> {
        let sep = node.attribute("sep").unwrap_or(",");
        let sep = if sep.is_empty() { "," } else { sep };
        let text = element_text_trimmed(node);
        let mut out = Vec::new();
        for p in text.split(sep).map(str::trim).filter(|p| !p.is_empty()) {
            match p.parse::<f64>() {
                Ok(v) if v.is_finite() => out.push(v),
                _ => {
                    self.error(
                        Diagnostic::error(format!(
                            "<{}>: `{p}` is not a number",
                            node.tag_name().name()
                        ))
                        .at(self.loc(node)),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }
}

fn element_text_trimmed(node: Node) -> String {
    node.children()
        .filter_map(|c| c.text())
        .collect::<String>()
        .trim()
        .to_string()
}

/// `f(expr)`, pointing the added text at the expression's start and end.
fn wrap(out: Output, f: Option<&str>) -> Output {
    let Some(f) = f else { return out };
    surround(out, &format!("{f}("), ")")
}

/// `max(0, expr)`: a uniflow (non-negative flow).
fn wrap_max0(out: Output) -> Output {
    surround(out, "max(0, ", ")")
}

fn surround(out: Output, before: &str, after: &str) -> Output {
    let first = out.offsets.first().copied().unwrap_or(0);
    let last = out.offsets.last().copied().unwrap_or(first);
    let mut text = String::with_capacity(out.text.len() + before.len() + after.len());
    let mut offsets = Vec::with_capacity(out.offsets.len() + before.len() + after.len());
    text.push_str(before);
    offsets.extend(std::iter::repeat_n(first, before.len()));
    // `out.offsets` has one more entry than `out.text` has bytes (its end).
    text.push_str(&out.text);
    offsets.extend_from_slice(&out.offsets[..out.text.len()]);
    text.push_str(after);
    offsets.extend(std::iter::repeat_n(last, after.len() + 1));
    Output { text, offsets }
}
