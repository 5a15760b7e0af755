//! The project standard for the bundled models: "every default parameter in models/ has a unit,
//! a source and a plausible range; assumptions are marked" (docs/models.md, "Parameter
//! standard").
//!
//! - Every `[constants.*]` entry of every `.toml` file under `models/` has a non-empty `units`
//!   and a non-empty `source` that is not a placeholder (an assumption says so in its source:
//!   "assumption: why").
//! - It has a `range = [low, high]` of two finite numbers with low <= high, unless its source
//!   starts with "definition" or "scenario lever" (structural constants such as indicator arrays
//!   and unit conversions, and policy levers). Every default value (`value`, a number or a list,
//!   and numeric `elements`) lies within the declared range.
//! - Every top-level model (a file with a `[time]` table) loads with no errors and no warnings,
//!   and runs with its own time settings.
//!
//! Violations are collected over all files and reported together, with file and constant name.

use std::fs;
use std::path::{Path, PathBuf};

use careshift::Model;
use toml::{Table, Value};

/// Sources that mark a constant as structural (no range needed).
const RANGE_EXEMPT_PREFIXES: [&str; 2] = ["definition", "scenario lever"];

/// Sources that say nothing about where a value comes from.
const PLACEHOLDER_SOURCES: [&str; 7] = ["todo", "tbd", "?", "unknown", "fixme", "xxx", "n/a"];

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// Every `.toml` file under `dir`, recursively, in a stable order.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
}

fn parse(path: &Path) -> Table {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    toml::from_str::<Table>(&text)
        .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", relative(path)))
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// A non-empty string field, or why it is missing.
fn text_field<'a>(decl: &'a Table, key: &str) -> Result<&'a str, String> {
    match decl.get(key) {
        None => Err(format!("has no `{key}`")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(format!("has an empty `{key}`")),
        Some(Value::String(s)) => Ok(s.trim()),
        Some(other) => Err(format!("`{key}` is not a string: {other}")),
    }
}

/// The default values of a constant: `value` (a number or a list of numbers) and the numeric
/// entries of `elements`. Equations (strings) have no default to check.
fn default_values(decl: &Table) -> Result<Vec<f64>, String> {
    let mut values = Vec::new();
    match decl.get("value") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                values.push(
                    as_number(item)
                        .ok_or_else(|| format!("`value` element {i} is not a number: {item}"))?,
                );
            }
        }
        Some(v) => {
            values.push(as_number(v).ok_or_else(|| format!("`value` is not a number: {v}"))?)
        }
    }
    if let Some(Value::Table(elements)) = decl.get("elements") {
        values.extend(elements.values().filter_map(as_number));
    }
    Ok(values)
}

/// Every violation of the parameter standard by one constant.
fn check_constant(decl: &Table) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = text_field(decl, "units") {
        problems.push(e);
    }
    let source = match text_field(decl, "source") {
        Ok(s) => {
            if PLACEHOLDER_SOURCES.contains(&s.to_lowercase().as_str()) {
                problems.push(format!("has a placeholder source `{s}`"));
            }
            Some(s.to_lowercase())
        }
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let exempt = source
        .as_deref()
        .is_some_and(|s| RANGE_EXEMPT_PREFIXES.iter().any(|p| s.starts_with(p)));
    let values = default_values(decl).unwrap_or_else(|e| {
        problems.push(e);
        Vec::new()
    });
    match decl.get("range") {
        None if exempt => {}
        None => problems.push(
            "has no `range` (only sources starting with \"definition\" or \"scenario lever\" may omit it)"
                .to_string(),
        ),
        Some(Value::Array(bounds)) => {
            let numbers: Vec<f64> = bounds.iter().filter_map(as_number).collect();
            if bounds.len() != 2 || numbers.len() != 2 {
                problems.push(format!(
                    "`range` must be two numbers [low, high], found {}",
                    Value::Array(bounds.clone())
                ));
            } else if !numbers.iter().all(|x| x.is_finite()) || numbers[0] > numbers[1] {
                problems.push(format!(
                    "`range` [{}, {}] is not finite with low <= high",
                    numbers[0], numbers[1]
                ));
            } else {
                let (low, high) = (numbers[0], numbers[1]);
                for (i, v) in values.iter().enumerate() {
                    if !(low..=high).contains(v) {
                        let at = if values.len() > 1 {
                            format!(" (element {i})")
                        } else {
                            String::new()
                        };
                        problems.push(format!(
                            "default value {v}{at} lies outside its range [{low}, {high}]"
                        ));
                    }
                }
            }
        }
        Some(other) => problems.push(format!("`range` is not a list: {other}")),
    }
    problems
}

#[test]
fn every_default_parameter_has_units_source_and_range() {
    let files = toml_files(&models_dir());
    assert!(!files.is_empty(), "no model files under models/");
    let mut violations = Vec::new();
    let mut checked = 0;
    for path in &files {
        let table = parse(path);
        let Some(constants) = table.get("constants") else {
            continue;
        };
        let Value::Table(constants) = constants else {
            violations.push(format!("{}: [constants] is not a table", relative(path)));
            continue;
        };
        for (name, decl) in constants {
            checked += 1;
            let Value::Table(decl) = decl else {
                violations.push(format!(
                    "{}: constant `{name}` is not a table",
                    relative(path)
                ));
                continue;
            };
            for problem in check_constant(decl) {
                violations.push(format!("{}: constant `{name}` {problem}", relative(path)));
            }
        }
    }
    assert!(checked > 0, "no constants found under models/");
    assert!(
        violations.is_empty(),
        "{} violation(s) of the parameter standard in {} constants:\n  {}",
        violations.len(),
        checked,
        violations.join("\n  ")
    );
}

#[test]
fn every_top_level_model_loads_without_warnings_and_runs() {
    let mut failures = Vec::new();
    let mut models = 0;
    for path in toml_files(&models_dir()) {
        if !parse(&path).contains_key("time") {
            continue; // a module: checked through the models that include it
        }
        models += 1;
        let name = relative(&path);
        let model = match Model::load(&path) {
            Ok(m) => m,
            Err(f) => {
                failures.push(format!("{name} does not load:\n{}", f.render()));
                continue;
            }
        };
        if !model.warnings.is_empty() {
            let rendered: Vec<String> = model
                .warnings
                .iter()
                .map(|w| w.render(&model.sources))
                .collect();
            failures.push(format!(
                "{name} loads with {} warning(s):\n{}",
                rendered.len(),
                rendered.join("\n")
            ));
        }
        if let Err(d) = model.run(model.time(), &[]) {
            failures.push(format!(
                "{name} fails to run with its own settings:\n{}",
                d.render(&model.sources)
            ));
        }
    }
    assert!(
        models > 0,
        "no top-level models (files with [time]) under models/"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The checker itself: it must flag what the standard forbids and accept what it allows.
#[test]
fn the_checker_flags_violations() {
    let table = |s: &str| toml::from_str::<Table>(s).expect("test TOML");
    let ok = table("value = 2\nunits = \"year\"\nsource = \"assumption: x\"\nrange = [1, 3]");
    assert!(check_constant(&ok).is_empty());
    let structural = table("value = [1, 0]\nunits = \"dimensionless\"\nsource = \"definition\"");
    assert!(check_constant(&structural).is_empty());
    let lever = table("value = 0\nunits = \"GBP/year\"\nsource = \"scenario lever: none\"");
    assert!(check_constant(&lever).is_empty());

    let missing = table("value = 2");
    let problems = check_constant(&missing);
    assert_eq!(problems.len(), 3, "{problems:?}"); // units, source, range
    let outside = table("value = [1, 5]\nunits = \"day\"\nsource = \"R1\"\nrange = [0, 4]");
    assert_eq!(check_constant(&outside).len(), 1);
    let reversed = table("value = 1\nunits = \"day\"\nsource = \"R1\"\nrange = [4, 0]");
    assert_eq!(check_constant(&reversed).len(), 1);
    let short = table("value = 1\nunits = \"day\"\nsource = \"R1\"\nrange = [4]");
    assert_eq!(check_constant(&short).len(), 1);
    let empty = table("value = 1\nunits = \"\"\nsource = \"TODO\"\nrange = [0, 4]");
    assert_eq!(check_constant(&empty).len(), 2);
}
