//! `--self-bench P,N,R`: the runner times itself without the protocol, for the fidelity check
//! (docs/results: our runner's tok/s beside the framework driven directly). After the same load,
//! warm-up and decode check as a served run, it generates R times from a P-token prompt
//! (ids 0..P) with exactly N new tokens, and prints one JSON line per run with decode tok/s by
//! the protocol's formula, (N − 1) / (t_N − t_1), and its greedy token ids (to compare two
//! builds' or flags' tokens without the harness), then exits. No JSON is read or written between
//! tokens in either mode; this shows what the pipe and the harness leave out.

use crate::generate::Generator;
use serde_json::json;
use std::time::Instant;

#[derive(Debug)]
pub struct SelfBench {
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    pub runs: usize,
}

impl SelfBench {
    /// `P,N,R`, each a positive integer (N ≥ 2 for a decode rate).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let parts: Vec<usize> = spec.split(',').map(|p| p.trim().parse::<usize>()).collect::<Result<_, _>>().map_err(|_| format!("--self-bench: expected P,N,R (integers), got {spec:?}"))?;
        match parts[..] {
            [prompt_tokens, new_tokens, runs] if prompt_tokens > 0 && new_tokens >= 2 && runs > 0 => Ok(Self { prompt_tokens, new_tokens, runs }),
            _ => Err(format!("--self-bench: expected P,N,R with P ≥ 1, N ≥ 2, R ≥ 1, got {spec:?}")),
        }
    }

    pub fn run(&self, generator: &mut Generator) {
        let prompt: Vec<u32> = (0..self.prompt_tokens as u32).collect();
        for run in 0..self.runs {
            let generation = generator.generate(&prompt, self.new_tokens, Instant::now());
            let times = &generation.token_times_ns;
            let decode_secs = (times[times.len() - 1] - times[0]) as f64 / 1e9;
            println!(
                "{}",
                json!({ "self_bench": run, "prompt_tokens": self.prompt_tokens, "new_tokens": self.new_tokens,
                        "ttft_ms": times[0] as f64 / 1e6, "decode_tps": (self.new_tokens - 1) as f64 / decode_secs,
                        "token_ids": generation.token_ids })
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_and_bad_specs_name_the_flag() {
        let b = SelfBench::parse("28,256,5").unwrap();
        assert_eq!((b.prompt_tokens, b.new_tokens, b.runs), (28, 256, 5));
        for bad in ["28,256", "0,256,5", "28,1,5", "a,b,c"] {
            assert!(SelfBench::parse(bad).unwrap_err().starts_with("--self-bench"), "{bad}");
        }
    }
}
