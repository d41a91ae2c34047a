//! Evidence written for people: a finding's evidence and a DMARC tag's reading are JSON values
//! in the model, and the HTML report shows them as words and lists, never as JSON text
//! (`{"uri": ...}`). The JSON report keeps the values as they are.

use serde_json::Value;

/// A value in one line: a string as itself, a list as its items joined by `, `, an object as
/// `key: value` pairs joined by `; `, nothing (`null`, an empty list) as `none`. An object that
/// names a `uri` (a DMARC or TLS-RPT report address) reads as that URI: its other fields are
/// the URI's parts.
pub fn inline(value: &Value) -> String {
    if let Some(Value::String(uri)) = value.get("uri") {
        return uri.clone();
    }
    match value {
        Value::Null => "none".to_owned(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items.iter().map(inline).collect::<Vec<_>>().join(", "),
        Value::Object(fields) => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(key, v)| format!("{}: {}", key.replace('_', " "), inline(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// A value as lines: one line per item of a list or per field of an object, and one line for
/// anything else.
pub fn lines(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(inline).collect(),
        Value::Object(fields) if !fields.is_empty() => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(key, v)| format!("{}: {}", key.replace('_', " "), inline(v)))
            .collect(),
        other => vec![inline(other)],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_values_read_as_words_and_lists() {
        let uri = json!([{"uri": "mailto:d@good.test", "size_limit": null, "authorised": true}]);
        assert_eq!(inline(&uri), "mailto:d@good.test");
        assert_eq!(
            inline(&json!({"size": 2048, "kind": "rsa", "note": null, "ok": true})),
            "kind: rsa; ok: yes; size: 2048"
        );
        assert_eq!(
            lines(&json!(["default", "google", "k1"])),
            ["default", "google", "k1"]
        );
        assert_eq!(
            lines(&json!({"code": "127.0.0.2", "meaning": "spam"})),
            ["code: 127.0.0.2", "meaning: spam"]
        );
        assert_eq!(lines(&json!([])), ["none"]);
        for value in [uri, json!({"a": {"b": [1, 2]}})] {
            for line in lines(&value) {
                assert!(!line.contains("{\"") && !line.contains("\":"), "{line}");
            }
        }
    }
}
