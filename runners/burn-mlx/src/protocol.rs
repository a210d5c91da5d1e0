//! The JSON-lines protocol of `runners/PROTOCOL.md`: request parsing with field-level errors,
//! replies and the server loop (the rules and messages of runners/burn/src/protocol.rs, in this
//! crate because that one is built with Burn 0.21's edition and toolchain).

use serde_json::{json, Map, Value};
use std::io::{BufRead, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

pub const PROTOCOL_VERSION: u32 = 1;

/// What the loaded model accepts; requests outside it are `bad_request`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub vocab_size: usize,
    pub max_positions: usize,
}

#[derive(Debug, PartialEq)]
pub enum Request {
    Generate { id: i64, prompt_token_ids: Vec<u32>, max_new_tokens: usize },
    Score { id: i64, prompt_token_ids: Vec<u32>, continuation_token_ids: Vec<u32>, top_k: usize },
    Shutdown { id: i64 },
}

#[derive(Debug, PartialEq)]
pub struct BadRequest {
    pub id: Option<i64>,
    pub message: String,
}

/// The model behind the server; a panic inside becomes an `internal` error reply.
pub trait Engine {
    fn generate(&mut self, prompt: &[u32], max_new_tokens: usize, start: Instant) -> (Vec<u32>, Vec<u64>);
    fn score(&mut self, prompt: &[u32], continuation: &[u32], top_k: usize) -> (Vec<u32>, Vec<Vec<(u32, f32)>>);
    /// Peak device memory the framework reports, bytes.
    fn peak_device_bytes(&self) -> Option<u64>;
}

pub fn parse_request(line: &str, limits: Limits) -> Result<Request, BadRequest> {
    let value: Value = serde_json::from_str(line).map_err(|e| BadRequest { id: None, message: format!("malformed JSON: {e}") })?;
    let object = value.as_object().ok_or_else(|| BadRequest { id: None, message: "request must be a JSON object".into() })?;
    let id = match object.get("id") {
        Some(Value::Number(n)) if n.is_i64() => n.as_i64().unwrap(),
        Some(_) => return Err(BadRequest { id: None, message: "id: expected an integer".into() }),
        None => return Err(BadRequest { id: None, message: "id: missing".into() }),
    };
    let bad = |message: String| BadRequest { id: Some(id), message };
    match object.get("op").and_then(Value::as_str) {
        Some("generate") => {
            let prompt_token_ids = token_ids(object, "prompt_token_ids", limits).map_err(bad)?;
            let max_new_tokens = integer(object, "max_new_tokens").map_err(bad)?;
            if max_new_tokens < 1 {
                return Err(bad(format!("max_new_tokens: {max_new_tokens} is less than 1")));
            }
            if object.get("ignore_eos").is_some_and(|v| !v.is_boolean()) {
                return Err(bad("ignore_eos: expected a boolean".into()));
            }
            let max_new_tokens = max_new_tokens as usize;
            check_length(prompt_token_ids.len() + max_new_tokens, "prompt_token_ids + max_new_tokens", limits).map_err(bad)?;
            Ok(Request::Generate { id, prompt_token_ids, max_new_tokens })
        }
        Some("score") => {
            let prompt_token_ids = token_ids(object, "prompt_token_ids", limits).map_err(bad)?;
            let continuation_token_ids = token_ids(object, "continuation_token_ids", limits).map_err(bad)?;
            let top_k = integer(object, "top_k").map_err(bad)?;
            if top_k < 1 || top_k as usize > limits.vocab_size {
                return Err(bad(format!("top_k: {top_k} is outside 1..={}", limits.vocab_size)));
            }
            let total = prompt_token_ids.len() + continuation_token_ids.len();
            check_length(total, "prompt_token_ids + continuation_token_ids", limits).map_err(bad)?;
            Ok(Request::Score { id, prompt_token_ids, continuation_token_ids, top_k: top_k as usize })
        }
        Some("shutdown") => Ok(Request::Shutdown { id }),
        other => Err(bad(format!("op: unknown op {:?}", other.unwrap_or("")))),
    }
}

fn integer(object: &Map<String, Value>, field: &str) -> Result<i64, String> {
    match object.get(field) {
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap()),
        Some(Value::Number(n)) if n.is_u64() => Err(format!("{field}: {n} is too large")),
        Some(_) => Err(format!("{field}: expected an integer")),
        None => Err(format!("{field}: missing")),
    }
}

/// A non-empty array of token ids inside the vocabulary.
fn token_ids(object: &Map<String, Value>, field: &str, limits: Limits) -> Result<Vec<u32>, String> {
    let array = match object.get(field) {
        Some(Value::Array(array)) => array,
        Some(_) => return Err(format!("{field}: expected an array of token ids")),
        None => return Err(format!("{field}: missing")),
    };
    if array.is_empty() {
        return Err(format!("{field}: must not be empty"));
    }
    array
        .iter()
        .enumerate()
        .map(|(i, v)| match (v.as_i64(), v.as_u64()) {
            (Some(id), _) if id >= 0 && (id as u64) < limits.vocab_size as u64 => Ok(id as u32),
            (Some(id), _) => Err(format!("{field}[{i}]: {id} is outside the vocabulary ({})", limits.vocab_size)),
            (None, Some(id)) => Err(format!("{field}[{i}]: {id} is outside the vocabulary ({})", limits.vocab_size)),
            (None, None) => Err(format!("{field}[{i}]: expected an integer token id")),
        })
        .collect()
}

fn check_length(total: usize, what: &str, limits: Limits) -> Result<(), String> {
    if total > limits.max_positions {
        return Err(format!("{what}: {total} positions exceed max_position_embeddings ({})", limits.max_positions));
    }
    Ok(())
}

pub fn error_reply(id: Option<i64>, kind: &str, message: &str) -> Value {
    json!({"id": id, "ok": false, "error": {"kind": kind, "message": message}})
}

/// Peak resident set size of this process so far, bytes (ru_maxrss: bytes on macOS, KiB on Linux).
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    let max_rss = usage.ru_maxrss as u64;
    if cfg!(target_os = "macos") {
        max_rss
    } else {
        max_rss * 1024
    }
}

/// Serves requests until `shutdown` or end of input; every reply is one line.
pub fn serve(input: impl BufRead, mut output: impl Write, engine: &mut impl Engine, limits: Limits) -> std::io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let start = Instant::now();
        let (reply, stop) = match parse_request(&line, limits) {
            Err(bad) => (error_reply(bad.id, "bad_request", &bad.message), false),
            Ok(Request::Shutdown { id }) => (json!({"id": id, "ok": true, "op": "shutdown"}), true),
            Ok(Request::Generate { id, prompt_token_ids, max_new_tokens }) => {
                let reply = match guarded(|| engine.generate(&prompt_token_ids, max_new_tokens, start)) {
                    Ok((token_ids, token_times_ns)) => json!({
                        "id": id, "ok": true, "op": "generate",
                        "token_ids": token_ids,
                        "token_times_ns": token_times_ns,
                        "total_time_ns": start.elapsed().as_nanos() as u64,
                        "peak_rss_bytes": peak_rss_bytes(),
                        "peak_device_bytes": engine.peak_device_bytes(),
                    }),
                    Err(message) => error_reply(Some(id), "internal", &message),
                };
                (reply, false)
            }
            Ok(Request::Score { id, prompt_token_ids, continuation_token_ids, top_k }) => {
                let reply = match guarded(|| engine.score(&prompt_token_ids, &continuation_token_ids, top_k)) {
                    Ok((argmax_ids, pairs)) => json!({
                        "id": id, "ok": true, "op": "score",
                        "argmax_ids": argmax_ids,
                        "top_k": pairs.iter()
                            .map(|row| row.iter().map(|&(id, logit)| json!([id, logit])).collect::<Vec<_>>())
                            .collect::<Vec<_>>(),
                    }),
                    Err(message) => error_reply(Some(id), "internal", &message),
                };
                (reply, false)
            }
        };
        writeln!(output, "{reply}")?;
        output.flush()?;
        if stop {
            break;
        }
    }
    Ok(())
}

/// burn-mlx reports MLX failures by panicking (`expect`); they become `internal` errors.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the runner panicked".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { vocab_size: 100, max_positions: 16 };

    fn bad(line: &str) -> BadRequest {
        parse_request(line, LIMITS).unwrap_err()
    }

    #[test]
    fn rejects_bad_requests_with_field_names() {
        assert_eq!(bad("{not json").id, None);
        let out_of_vocab = bad(r#"{"id":4,"op":"generate","prompt_token_ids":[1,2,3,999999],"max_new_tokens":1}"#);
        assert_eq!(out_of_vocab.message, "prompt_token_ids[3]: 999999 is outside the vocabulary (100)");
        assert!(bad(r#"{"id":5,"op":"generate","prompt_token_ids":[],"max_new_tokens":1}"#).message.contains("must not be empty"));
        assert!(bad(r#"{"id":6,"op":"generate","prompt_token_ids":[1],"max_new_tokens":0}"#).message.starts_with("max_new_tokens"));
        assert!(bad(r#"{"id":7,"op":"generate","prompt_token_ids":[1],"max_new_tokens":16}"#).message.contains("max_position_embeddings"));
        assert!(bad(r#"{"id":8,"op":"dance"}"#).message.contains("unknown op"));
        assert!(bad(r#"{"id":9,"op":"generate","prompt_token_ids":[-1],"max_new_tokens":1}"#).message.contains("outside the vocabulary"));
        assert_eq!(bad(r#"{"op":"shutdown"}"#).id, None);
    }
}
