//! A script evaluator with runaway scripts: the chat-bot use case of a pool with kill-on-timeout,
//! served by the `eval_worker` helper and used by `tests/timeouts.rs`.

use serde::{Deserialize, Serialize};

/// A script that does not evaluate, with the script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalError(pub String);

/// Evaluates scripts; one that runs for more than 2 s gets its worker killed and replaced.
#[ipc2::service]
pub trait Eval {
    /// Evaluates `script`: `"a+b"` is the sum, `"spin"` never ends, anything else is an error.
    #[ipc2(timeout = "2s", on_timeout = "restart")]
    async fn eval(&self, script: String) -> Result<i64, EvalError>;
}

/// The worker's implementation.
#[derive(Debug, Default)]
pub struct Evaluator;

impl Eval for Evaluator {
    async fn eval(&self, script: String) -> Result<i64, EvalError> {
        evaluate(&script)
    }
}

/// What `script` evaluates to (never returns for `"spin"`).
pub fn evaluate(script: &str) -> Result<i64, EvalError> {
    if script == "spin" {
        loop {
            std::hint::spin_loop();
        }
    }
    let error = || EvalError(script.to_owned());
    let (a, b) = script.split_once('+').ok_or_else(error)?;
    let (a, b) = (a.trim().parse::<i64>(), b.trim().parse::<i64>());
    Ok(a.map_err(|_| error())? + b.map_err(|_| error())?)
}

/// The scenario's 50 scripts, submitted at once: 43 sums, 2 that do not evaluate, and 5 that
/// spin forever.
pub fn fifty_scripts() -> Vec<String> {
    (0..50)
        .map(|i| match i {
            3 | 11 | 19 | 27 | 35 => "spin".to_owned(),
            8 => "1+".to_owned(),
            40 => "two+two".to_owned(),
            i => format!("{i}+1000"),
        })
        .collect()
}
