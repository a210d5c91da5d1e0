//! The JSON-lines protocol of `runners/PROTOCOL.md`: request parsing with field-level error
//! messages, reply building, and the server loop. Independent of Burn so it can be tested alone,
//! and shared through `#[path]` with runners/burn-mlx (Burn 0.16, edition 2021): keep it free of
//! Burn and of edition-2024-only syntax. The process's peak memory, reported in every `generate`
//! reply, is read by `process_memory.rs` beside it.

// Relative to this file's folder, so burn-mlx's `#[path]` include finds it too.
#[path = "process_memory.rs"]
mod process_memory;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

pub const PROTOCOL_VERSION: u32 = 1;

/// The line a runner prints once its model is loaded (PROTOCOL.md, "Start-up"); `op` and
/// `protocol_version` are added by [`Ready::to_line`].
#[derive(Debug, Clone, Serialize)]
pub struct Ready {
    pub framework: String,
    /// The version of the framework library itself.
    pub framework_version: String,
    pub backend: String,
    pub device: String,
    /// The dtype actually used: `f16`, `bf16` or `f32`.
    pub dtype: String,
    /// Parameters loaded, tied embeddings counted once.
    pub parameter_count: usize,
    /// Wall time from process start to `ready`, milliseconds.
    pub load_time_ms: f64,
    /// `null` where the framework has no such switch.
    pub fusion: Option<bool>,
    pub autotune: Option<bool>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<RunnerBuild>,
}

/// How the runner binary was built, as embedded at build time.
#[derive(Debug, Clone, Serialize)]
pub struct RunnerBuild {
    /// `git describe --always` of the repository, or "unknown" outside git.
    pub commit: String,
    /// Whether the runner's source differed from `commit`; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
    /// Cargo features compiled in.
    pub features: Vec<String>,
    /// Cargo profile: `release`, `debug`.
    pub profile: String,
    /// When the binary was built, ISO 8601 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_at: Option<String>,
}

impl Ready {
    /// The `ready` line, without its newline.
    pub fn to_line(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            op: &'static str,
            protocol_version: u32,
            #[serde(flatten)]
            ready: &'a Ready,
        }
        serde_json::to_string(&Line { op: "ready", protocol_version: PROTOCOL_VERSION, ready: self }).expect("ready serialises")
    }
}

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

/// A request that cannot be served: the id when one could be read, and why.
#[derive(Debug, PartialEq)]
pub struct BadRequest {
    pub id: Option<i64>,
    pub message: String,
}

pub struct GenerateReply {
    pub token_ids: Vec<u32>,
    pub token_times_ns: Vec<u64>,
    /// Peak device memory the backend reports so far, where it reports any.
    pub peak_device_bytes: Option<u64>,
}

pub struct ScoreReply {
    pub argmax_ids: Vec<u32>,
    pub top_k: Vec<Vec<(u32, f32)>>,
}

/// The model behind the server; errors are reported as `internal`.
pub trait Engine {
    /// `start` is when the request line was parsed; token times are measured from it.
    fn generate(&mut self, prompt: &[u32], max_new_tokens: usize, start: Instant) -> Result<GenerateReply, String>;
    fn score(&mut self, prompt: &[u32], continuation: &[u32], top_k: usize) -> Result<ScoreReply, String>;
}

/// A request line as serde reads it: every field optional and of any JSON type ([`Field`]), so
/// that [`parse_request`] checks the protocol's rules in its order and names the field in each
/// message, whatever the line holds. Unknown fields are ignored.
#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    id: Field<Integer>,
    #[serde(default)]
    op: Field<String>,
    #[serde(default)]
    prompt_token_ids: Field<Vec<Integer>>,
    #[serde(default)]
    continuation_token_ids: Field<Vec<Integer>>,
    #[serde(default)]
    max_new_tokens: Field<Integer>,
    #[serde(default)]
    ignore_eos: Field<bool>,
    #[serde(default)]
    top_k: Field<Integer>,
}

/// One field of a [`Line`]: absent, of the expected type, or of another (`null` included).
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Field<T> {
    #[default]
    #[serde(skip)]
    Missing,
    Given(T),
    Mistyped(IgnoredAny),
}

/// A JSON number read as an integer: one that fits i64, a larger non-negative one, or anything
/// else (a fraction, a string).
#[derive(Deserialize)]
#[serde(untagged)]
enum Integer {
    Signed(i64),
    Large(u64),
    Other(IgnoredAny),
}

pub fn parse_request(line: &str, limits: Limits) -> Result<Request, BadRequest> {
    let no_id = |message: String| BadRequest { id: None, message };
    let value: Value = serde_json::from_str(line).map_err(|e| no_id(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(no_id("request must be a JSON object".into()));
    }
    // Every field of `Line` takes any JSON value, so an object always reads.
    let line = Line::deserialize(value).map_err(|e| no_id(format!("malformed JSON: {e}")))?;
    let id = match line.id {
        Field::Given(Integer::Signed(id)) => id,
        Field::Missing => return Err(no_id("id: missing".into())),
        _ => return Err(no_id("id: expected an integer".into())),
    };
    let bad = |message: String| BadRequest { id: Some(id), message };
    let op = match line.op {
        Field::Given(op) => op,
        Field::Mistyped(_) => return Err(bad("op: expected a string".into())),
        Field::Missing => return Err(bad("op: missing".into())),
    };
    match op.as_str() {
        "generate" => {
            let prompt_token_ids = token_ids(line.prompt_token_ids, "prompt_token_ids", limits).map_err(bad)?;
            let max_new_tokens = integer(line.max_new_tokens, "max_new_tokens").map_err(bad)?;
            if max_new_tokens < 1 {
                return Err(bad(format!("max_new_tokens: {max_new_tokens} is less than 1")));
            }
            // The benchmark always generates exactly max_new_tokens (PROTOCOL.md, `generate`).
            match line.ignore_eos {
                Field::Given(true) => {}
                Field::Given(false) => return Err(bad("ignore_eos: must be true (this runner always generates exactly max_new_tokens)".into())),
                Field::Mistyped(_) => return Err(bad("ignore_eos: expected a boolean".into())),
                Field::Missing => return Err(bad("ignore_eos: missing".into())),
            }
            let max_new_tokens = max_new_tokens as usize;
            check_length(prompt_token_ids.len() + max_new_tokens, "prompt_token_ids + max_new_tokens", limits)
                .map_err(bad)?;
            Ok(Request::Generate { id, prompt_token_ids, max_new_tokens })
        }
        "score" => {
            let prompt_token_ids = token_ids(line.prompt_token_ids, "prompt_token_ids", limits).map_err(bad)?;
            let continuation_token_ids = token_ids(line.continuation_token_ids, "continuation_token_ids", limits).map_err(bad)?;
            let top_k = integer(line.top_k, "top_k").map_err(bad)?;
            if top_k < 1 || top_k as usize > limits.vocab_size {
                return Err(bad(format!("top_k: {top_k} is outside 1..={}", limits.vocab_size)));
            }
            check_length(
                prompt_token_ids.len() + continuation_token_ids.len(),
                "prompt_token_ids + continuation_token_ids",
                limits,
            )
            .map_err(bad)?;
            Ok(Request::Score { id, prompt_token_ids, continuation_token_ids, top_k: top_k as usize })
        }
        "shutdown" => Ok(Request::Shutdown { id }),
        other => Err(bad(format!("op: unknown op {other:?}"))),
    }
}

fn integer(value: Field<Integer>, field: &str) -> Result<i64, String> {
    match value {
        Field::Given(Integer::Signed(n)) => Ok(n),
        Field::Given(Integer::Large(n)) => Err(format!("{field}: {n} is too large")),
        Field::Given(Integer::Other(_)) | Field::Mistyped(_) => Err(format!("{field}: expected an integer")),
        Field::Missing => Err(format!("{field}: missing")),
    }
}

/// A non-empty array of token ids inside the vocabulary.
fn token_ids(value: Field<Vec<Integer>>, field: &str, limits: Limits) -> Result<Vec<u32>, String> {
    let ids = match value {
        Field::Given(ids) => ids,
        Field::Mistyped(_) => return Err(format!("{field}: expected an array of token ids")),
        Field::Missing => return Err(format!("{field}: missing")),
    };
    if ids.is_empty() {
        return Err(format!("{field}: must not be empty"));
    }
    let outside = |i: usize, id: &dyn std::fmt::Display| format!("{field}[{i}]: {id} is outside the vocabulary ({})", limits.vocab_size);
    ids.iter()
        .enumerate()
        .map(|(i, id)| match *id {
            Integer::Signed(id) if id >= 0 && (id as u64) < limits.vocab_size as u64 => Ok(id as u32),
            Integer::Signed(id) => Err(outside(i, &id)),
            Integer::Large(id) => Err(outside(i, &id)),
            Integer::Other(_) => Err(format!("{field}[{i}]: expected an integer token id")),
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

/// Serves requests from `input` until `shutdown` or end of input. Every reply is one line.
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
                let result = guarded(|| engine.generate(&prompt_token_ids, max_new_tokens, start));
                let reply = match result {
                    Ok(generation) => json!({
                        "id": id, "ok": true, "op": "generate",
                        "token_ids": generation.token_ids,
                        "token_times_ns": generation.token_times_ns,
                        "total_time_ns": start.elapsed().as_nanos() as u64,
                        "peak_rss_bytes": process_memory::peak_rss_bytes(),
                        "peak_device_bytes": generation.peak_device_bytes,
                    }),
                    Err(message) => error_reply(Some(id), "internal", &message),
                };
                (reply, false)
            }
            Ok(Request::Score { id, prompt_token_ids, continuation_token_ids, top_k }) => {
                let result = guarded(|| engine.score(&prompt_token_ids, &continuation_token_ids, top_k));
                let reply = match result {
                    Ok(scores) => json!({
                        "id": id, "ok": true, "op": "score",
                        "argmax_ids": scores.argmax_ids,
                        "top_k": scores.top_k.iter()
                            .map(|pairs| pairs.iter().map(|&(id, logit)| json!([id, logit])).collect::<Vec<_>>())
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

/// Turns a framework panic (out of memory, a kernel failure) into an `internal` error.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the runner panicked".into());
        Err(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { vocab_size: 100, max_positions: 16 };

    struct FakeEngine;

    impl Engine for FakeEngine {
        fn generate(&mut self, prompt: &[u32], max_new_tokens: usize, start: Instant) -> Result<GenerateReply, String> {
            if prompt[0] == 99 {
                panic!("device lost");
            }
            Ok(GenerateReply {
                token_ids: vec![7; max_new_tokens],
                token_times_ns: (0..max_new_tokens).map(|_| start.elapsed().as_nanos() as u64).collect(),
                peak_device_bytes: None,
            })
        }
        fn score(&mut self, _prompt: &[u32], continuation: &[u32], top_k: usize) -> Result<ScoreReply, String> {
            Ok(ScoreReply {
                argmax_ids: continuation.to_vec(),
                top_k: continuation.iter().map(|&id| (0..top_k).map(|k| (id, 1.5 - k as f32)).collect()).collect(),
            })
        }
    }

    fn bad(line: &str) -> BadRequest {
        parse_request(line, LIMITS).unwrap_err()
    }

    #[test]
    fn parses_generate_score_shutdown() {
        assert_eq!(
            parse_request(r#"{"id":1,"op":"generate","prompt_token_ids":[1,2],"max_new_tokens":3,"ignore_eos":true}"#, LIMITS),
            Ok(Request::Generate { id: 1, prompt_token_ids: vec![1, 2], max_new_tokens: 3 })
        );
        assert_eq!(
            parse_request(r#"{"id":2,"op":"score","prompt_token_ids":[1],"continuation_token_ids":[4,5],"top_k":2}"#, LIMITS),
            Ok(Request::Score { id: 2, prompt_token_ids: vec![1], continuation_token_ids: vec![4, 5], top_k: 2 })
        );
        assert_eq!(parse_request(r#"{"id":3,"op":"shutdown"}"#, LIMITS), Ok(Request::Shutdown { id: 3 }));
    }

    #[test]
    fn rejects_bad_requests_with_field_names() {
        assert_eq!(bad("{not json").id, None);
        assert!(bad("{not json").message.starts_with("malformed JSON"));
        let out_of_vocab = bad(r#"{"id":4,"op":"generate","prompt_token_ids":[1,2,3,999999],"max_new_tokens":1,"ignore_eos":true}"#);
        assert_eq!(out_of_vocab, BadRequest { id: Some(4), message: "prompt_token_ids[3]: 999999 is outside the vocabulary (100)".into() });
        assert!(bad(r#"{"id":5,"op":"generate","prompt_token_ids":[],"max_new_tokens":1}"#).message.contains("must not be empty"));
        assert!(bad(r#"{"id":6,"op":"generate","prompt_token_ids":[1],"max_new_tokens":0}"#).message.starts_with("max_new_tokens"));
        assert!(bad(r#"{"id":7,"op":"generate","prompt_token_ids":[1],"max_new_tokens":16,"ignore_eos":true}"#).message.contains("max_position_embeddings"));
        assert_eq!(bad(r#"{"id":12,"op":"generate","prompt_token_ids":[1],"max_new_tokens":1}"#).message, "ignore_eos: missing");
        assert!(bad(r#"{"id":13,"op":"generate","prompt_token_ids":[1],"max_new_tokens":1,"ignore_eos":false}"#).message.starts_with("ignore_eos: must be true"));
        assert!(bad(r#"{"id":14,"op":"generate","prompt_token_ids":[1],"max_new_tokens":1,"ignore_eos":"yes"}"#).message.starts_with("ignore_eos: expected a boolean"));
        assert!(bad(r#"{"id":8,"op":"dance"}"#).message.contains("unknown op"));
        assert!(bad(r#"{"id":9,"op":"generate","prompt_token_ids":[-1],"max_new_tokens":1}"#).message.contains("outside the vocabulary"));
        assert!(bad(r#"{"id":10,"op":"generate","prompt_token_ids":["a"],"max_new_tokens":1}"#).message.contains("expected an integer"));
        assert_eq!(bad(r#"{"op":"shutdown"}"#).id, None);
        assert!(bad(r#"{"id":11,"op":"score","prompt_token_ids":[1],"continuation_token_ids":[2],"top_k":0}"#).message.starts_with("top_k"));
    }

    #[test]
    fn messages_name_the_field_exactly() {
        let cases = [
            ("[1, 2]", None, "request must be a JSON object"),
            (r#"{"op":"shutdown","id":null}"#, None, "id: expected an integer"),
            (r#"{"op":"shutdown","id":20.5}"#, None, "id: expected an integer"),
            (r#"{"op":"shutdown","id":"20"}"#, None, "id: expected an integer"),
            (r#"{"op":"shutdown","id":18446744073709551615}"#, None, "id: expected an integer"),
            (r#"{"id":1}"#, Some(1), "op: missing"),
            (r#"{"id":1,"op":null}"#, Some(1), "op: expected a string"),
            (r#"{"id":1,"op":"fly"}"#, Some(1), "op: unknown op \"fly\""),
            (r#"{"id":2,"op":"generate","max_new_tokens":1,"ignore_eos":true}"#, Some(2), "prompt_token_ids: missing"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":"1 2","max_new_tokens":1,"ignore_eos":true}"#, Some(2), "prompt_token_ids: expected an array of token ids"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":[1,2.5],"max_new_tokens":1,"ignore_eos":true}"#, Some(2), "prompt_token_ids[1]: expected an integer token id"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":[-3],"max_new_tokens":1,"ignore_eos":true}"#, Some(2), "prompt_token_ids[0]: -3 is outside the vocabulary (100)"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":[18446744073709551615],"max_new_tokens":1,"ignore_eos":true}"#, Some(2), "prompt_token_ids[0]: 18446744073709551615 is outside the vocabulary (100)"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":[1]}"#, Some(2), "max_new_tokens: missing"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":[1],"max_new_tokens":"2"}"#, Some(2), "max_new_tokens: expected an integer"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":[1],"max_new_tokens":18446744073709551615}"#, Some(2), "max_new_tokens: 18446744073709551615 is too large"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":[1],"max_new_tokens":0,"ignore_eos":true}"#, Some(2), "max_new_tokens: 0 is less than 1"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":[1],"max_new_tokens":1,"ignore_eos":null}"#, Some(2), "ignore_eos: expected a boolean"),
            (r#"{"id":2,"op":"generate","prompt_token_ids":[1,2],"max_new_tokens":15,"ignore_eos":true}"#, Some(2), "prompt_token_ids + max_new_tokens: 17 positions exceed max_position_embeddings (16)"),
            (r#"{"id":3,"op":"score","prompt_token_ids":[1],"continuation_token_ids":[],"top_k":1}"#, Some(3), "continuation_token_ids: must not be empty"),
            (r#"{"id":3,"op":"score","prompt_token_ids":[1],"continuation_token_ids":[2],"top_k":2.5}"#, Some(3), "top_k: expected an integer"),
            (r#"{"id":3,"op":"score","prompt_token_ids":[1],"continuation_token_ids":[2],"top_k":101}"#, Some(3), "top_k: 101 is outside 1..=100"),
            (r#"{"id":3,"op":"score","prompt_token_ids":[1],"continuation_token_ids":[2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17],"top_k":1}"#, Some(3), "prompt_token_ids + continuation_token_ids: 17 positions exceed max_position_embeddings (16)"),
        ];
        for (line, id, message) in cases {
            assert_eq!(bad(line), BadRequest { id, message: message.into() }, "{line}");
        }
        // Unknown fields are ignored, as before.
        assert_eq!(parse_request(r#"{"id":3,"op":"shutdown","extra":[1]}"#, LIMITS), Ok(Request::Shutdown { id: 3 }));
    }

    #[test]
    fn ready_line_has_op_version_nulls_and_optional_build() {
        let mut ready = Ready {
            framework: "burn".into(),
            framework_version: "0.22.0-pre.3".into(),
            backend: "cpu".into(),
            device: "x86_64 CPU".into(),
            dtype: "f32".into(),
            parameter_count: 42,
            load_time_ms: 1.5,
            fusion: None,
            autotune: None,
            notes: vec!["a note".into()],
            build: None,
        };
        let line: Value = serde_json::from_str(&ready.to_line()).unwrap();
        assert_eq!(
            line,
            json!({"op": "ready", "protocol_version": 1, "framework": "burn", "framework_version": "0.22.0-pre.3",
                   "backend": "cpu", "device": "x86_64 CPU", "dtype": "f32", "parameter_count": 42,
                   "load_time_ms": 1.5, "fusion": null, "autotune": null, "notes": ["a note"]})
        );
        assert!(ready.to_line().starts_with(r#"{"op":"ready","protocol_version":1,"#));
        ready.build = Some(RunnerBuild { commit: "unknown".into(), dirty: None, features: vec!["cpu".into()], profile: "release".into(), built_at: None });
        let line: Value = serde_json::from_str(&ready.to_line()).unwrap();
        assert_eq!(line["build"], json!({"commit": "unknown", "features": ["cpu"], "profile": "release"}));
    }

    #[test]
    fn server_stays_usable_after_errors_and_stops_on_shutdown() {
        let input = [
            "garbage",
            r#"{"id":1,"op":"generate","prompt_token_ids":[100],"max_new_tokens":2}"#,
            r#"{"id":2,"op":"generate","prompt_token_ids":[99],"max_new_tokens":2,"ignore_eos":true}"#,
            r#"{"id":3,"op":"generate","prompt_token_ids":[1],"max_new_tokens":2,"ignore_eos":true}"#,
            r#"{"id":4,"op":"score","prompt_token_ids":[1],"continuation_token_ids":[5],"top_k":2}"#,
            r#"{"id":5,"op":"shutdown"}"#,
            r#"{"id":6,"op":"shutdown"}"#,
        ]
        .join("\n");
        let mut output = Vec::new();
        serve(input.as_bytes(), &mut output, &mut FakeEngine, LIMITS).unwrap();
        let replies: Vec<Value> = String::from_utf8(output).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(replies.len(), 6, "nothing after shutdown");
        assert_eq!(replies[0]["id"], Value::Null);
        assert_eq!(replies[0]["error"]["kind"], "bad_request");
        assert_eq!(replies[1]["error"]["kind"], "bad_request");
        assert_eq!(replies[2]["error"]["kind"], "internal");
        assert_eq!(replies[2]["error"]["message"], "device lost");
        assert_eq!(replies[3]["ok"], true);
        assert_eq!(replies[3]["token_ids"], json!([7, 7]));
        assert!(replies[3]["total_time_ns"].as_u64().unwrap() >= replies[3]["token_times_ns"][1].as_u64().unwrap());
        assert!(replies[3]["peak_rss_bytes"].as_u64().unwrap() > 0);
        assert_eq!(replies[3]["peak_device_bytes"], Value::Null);
        assert_eq!(replies[4]["top_k"], json!([[[5, 1.5], [5, 0.5]]]));
        assert_eq!(replies[5], json!({"id": 5, "ok": true, "op": "shutdown"}));
    }
}
