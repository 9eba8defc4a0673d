//! Values of a JSON document coerced into product fields.

use std::collections::BTreeMap;

use serde_json::Value;

use super::map::Source;

/// The values at a dotted path, through arrays; nulls left out.
pub(super) fn values_at<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut cur: Vec<&Value> = vec![v];
    for part in path.split('.') {
        let mut next = Vec::new();
        for c in cur {
            match c {
                Value::Object(m) => {
                    if let Some(x) = m.get(part) {
                        next.push(x);
                    }
                }
                Value::Array(a) => {
                    for e in a {
                        if let Some(x) = e.as_object().and_then(|m| m.get(part)) {
                            next.push(x);
                        }
                    }
                }
                _ => {}
            }
        }
        cur = next;
    }
    cur.into_iter().filter(|x| !x.is_null()).collect()
}

/// The value(s) of a source: the first alternative that has any; its
/// concatenated paths' values in order.
pub(super) fn source_values<'a>(doc: &'a Value, src: &Source) -> Vec<&'a Value> {
    for alt in &src.alternatives {
        let vals: Vec<&Value> = alt.iter().flat_map(|p| values_at(doc, p)).collect();
        if !vals.is_empty() {
            return vals;
        }
    }
    Vec::new()
}

pub(super) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Text from values: strings and numbers, arrays of them, joined by spaces.
pub(super) fn text_of(vals: &[&Value]) -> std::result::Result<Option<String>, String> {
    let mut parts = Vec::new();
    for v in vals {
        match v {
            Value::Array(a) => parts.extend(a.iter().filter_map(scalar_text)),
            Value::Object(_) => return Err("is an object, not text".into()),
            other => parts.extend(scalar_text(other)),
        }
    }
    Ok(Some(parts.join(" ")).filter(|s| !s.is_empty()))
}

/// A number from a JSON number or from text such as `"$1,299.99"`, `"12,5 €"`.
pub(super) fn number_of(v: &Value) -> std::result::Result<(f64, bool), String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map(|x| (x, false))
            .ok_or_else(|| "is not a number".into()),
        Value::String(s) => {
            let kept: String = s
                .chars()
                .filter(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-'))
                .collect();
            let dropped_other = s.chars().any(|c| c.is_alphabetic());
            let normalised = match (kept.rfind('.'), kept.rfind(',')) {
                // 1,299.99 → thousands commas.
                (Some(d), Some(c)) if c < d => kept.replace(',', ""),
                // 1.299,99 → decimal comma.
                (Some(_), Some(_)) => kept.replace('.', "").replace(',', "."),
                // 12,99 → a decimal comma; 1,299 → thousands.
                (None, Some(c)) if kept.len() - c - 1 == 2 => kept.replace(',', "."),
                (None, Some(_)) => kept.replace(',', ""),
                _ => kept,
            };
            match normalised.parse::<f64>() {
                Ok(x) if !dropped_other || s.trim().len() <= 4 + normalised.len() => Ok((x, true)),
                _ => Err(format!("`{s}` is not a number")),
            }
        }
        _ => Err("is not a number".into()),
    }
}

/// A category path from `"A > B"`, `["A", "B"]` or `[["A", "B"], ...]`.
pub(super) fn category_of(vals: &[&Value]) -> std::result::Result<Vec<String>, String> {
    let split = |s: &str| -> Vec<String> {
        s.split('>')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    };
    let mut path = Vec::new();
    for v in vals {
        match v {
            Value::String(s) => path.extend(split(s)),
            Value::Array(a) => {
                if let Some(Value::Array(first)) = a.first() {
                    // Several paths: the first.
                    path.extend(first.iter().filter_map(scalar_text));
                } else {
                    for e in a {
                        match e {
                            Value::String(s) => path.extend(split(s)),
                            other => path.extend(scalar_text(other)),
                        }
                    }
                }
            }
            Value::Object(_) => return Err("is an object, not a category path".into()),
            other => path.extend(scalar_text(other)),
        }
    }
    Ok(path)
}

/// Attributes from an object: nested keys dotted, arrays of scalars joined.
pub(super) fn attributes_of(v: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                attributes_of(x, &key, out);
            }
        }
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().filter_map(scalar_text).collect();
            if !parts.is_empty() && !prefix.is_empty() {
                out.insert(prefix.to_owned(), parts.join(", "));
            }
        }
        Value::Null => {}
        other => {
            if let (false, Some(t)) = (prefix.is_empty(), scalar_text(other)) {
                out.insert(prefix.to_owned(), t);
            }
        }
    }
}
