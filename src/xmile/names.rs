//! XMILE names: case-insensitive, with spaces and underscores equivalent (XMILE 1.0 §3.2.2),
//! and the internal identifiers they become in the equation language.

/// The canonical form used to compare two XMILE names: lower case, each run of whitespace
/// and underscores one `_`, no leading or trailing ones. Writing a newline as the two
/// characters `\n` (as XMILE does inside names) counts as whitespace.
pub fn canonical(name: &str) -> String {
    let name = name.replace("\\n", " ");
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.trim().chars() {
        if c.is_whitespace() || c == '_' {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push('_');
        }
        gap = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// The identifier a canonical name becomes in the equation language: letters, digits and `_`
/// are kept; any other character `c` is written `_xHH_` (its code point in hex), so distinct
/// names stay distinct; a leading digit gets a `_` in front.
pub fn ident(canonical: &str) -> String {
    let mut out = String::with_capacity(canonical.len());
    for c in canonical.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push_str(&format!("_x{:x}_", c as u32));
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Canonical name, then identifier.
pub fn ident_of(name: &str) -> String {
    ident(&canonical(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_underscores_and_case_are_equivalent() {
        assert_eq!(canonical("Heat Loss  to_Room"), "heat_loss_to_room");
        assert_eq!(canonical(" heat__loss_to room "), "heat_loss_to_room");
        assert_eq!(canonical("Stock with \\n Newline"), "stock_with_newline");
    }

    #[test]
    fn identifiers_are_distinct_and_valid() {
        assert_eq!(ident("room_temperature"), "room_temperature");
        assert_eq!(ident("a$b"), "a_x24_b");
        assert_ne!(ident("a$b"), ident("a%b"));
        assert_eq!(ident("3rd"), "_3rd");
        assert_eq!(
            ident(&canonical("Flow*with a few^arithmetic")),
            "flow_x2a_with_a_few_x5e_arithmetic"
        );
    }
}
