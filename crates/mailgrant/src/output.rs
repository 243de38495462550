//! Printing results: one JSON object with `--json`, readable lines otherwise.

use mailgrant_server::ServiceError;
use serde_json::Value;
use std::process::ExitCode;

pub fn print(json: bool, value: &Value) {
    if json {
        println!("{value}");
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::Array(items) if items.iter().all(Value::is_object) => {
                        println!("{key}: {}", items.len());
                        for item in items {
                            println!("  - {}", one_line(item));
                        }
                    }
                    other => println!("{key}: {}", plain(other)),
                }
            }
        }
        other => println!("{}", plain(other)),
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn one_line(v: &Value) -> String {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", plain(v)))
            .collect::<Vec<_>>()
            .join("  "),
        other => plain(other),
    }
}

/// Report an error (stderr always; stdout too with `--json`) and choose the exit code:
/// 2 bad input, 3 not found, 4 conflict, 1 anything else.
pub fn fail(json: bool, error: &ServiceError) -> ExitCode {
    let (code, kind) = match error {
        ServiceError::Invalid(_) | ServiceError::OAuth(_) | ServiceError::Bearer(_) => {
            (2, "invalid")
        }
        ServiceError::NotFound(_) => (3, "not_found"),
        ServiceError::Conflict(_) => (4, "conflict"),
        ServiceError::Forbidden(_) => (1, "forbidden"),
        ServiceError::RateLimited(_) => (1, "rate_limited"),
        ServiceError::Store(_) => (1, "internal"),
    };
    let message = match error {
        ServiceError::Store(e) => format!("storage failure: {e}"),
        other => other.to_string(),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": { "kind": kind, "message": message } })
        );
    }
    eprintln!("error: {message}");
    ExitCode::from(code)
}
