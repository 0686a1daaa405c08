//! A worker serving the version of `Eval` that `SKEW` names (see
//! `ipc2_test_support::versions`): `base`, the host's own, or one that differs from it in one
//! place.

use ipc2_test_support::versions::*;

struct Worker;

impl base::Eval for Worker {
    async fn eval(&self, script: String) -> i64 {
        script.len() as i64
    }
    async fn area(&self, shape: base::Outer) -> u32 {
        shape.inner.x * shape.inner.x
    }
    async fn classify(&self, x: u32) -> base::Kind {
        if x < 10 {
            base::Kind::Small
        } else {
            base::Kind::Large
        }
    }
}

impl result_changed::Eval for Worker {
    async fn eval(&self, script: String) -> String {
        script
    }
    async fn area(&self, _: base::Outer) -> u32 {
        0
    }
    async fn classify(&self, _: u32) -> base::Kind {
        base::Kind::Small
    }
}

impl argument_added::Eval for Worker {
    async fn eval(&self, script: String, limit: u32) -> i64 {
        script.len().min(limit as usize) as i64
    }
    async fn area(&self, _: base::Outer) -> u32 {
        0
    }
    async fn classify(&self, _: u32) -> base::Kind {
        base::Kind::Small
    }
}

impl argument_changed::Eval for Worker {
    async fn eval(&self, script: Vec<String>) -> i64 {
        script.len() as i64
    }
    async fn area(&self, _: base::Outer) -> u32 {
        0
    }
    async fn classify(&self, _: u32) -> base::Kind {
        base::Kind::Small
    }
}

impl deep_field::Eval for Worker {
    async fn eval(&self, _: String) -> i64 {
        0
    }
    async fn area(&self, shape: deep_field::Outer) -> u32 {
        shape.inner.x as u32
    }
    async fn classify(&self, _: u32) -> base::Kind {
        base::Kind::Small
    }
}

impl variant_renamed::Eval for Worker {
    async fn eval(&self, _: String) -> i64 {
        0
    }
    async fn area(&self, _: base::Outer) -> u32 {
        0
    }
    async fn classify(&self, _: u32) -> variant_renamed::Kind {
        variant_renamed::Kind::Big
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let skew = std::env::var("SKEW")?;
    match skew.as_str() {
        "base" => ipc2::worker::serve(base::EvalServer(Worker)).await?,
        "result_changed" => ipc2::worker::serve(result_changed::EvalServer(Worker)).await?,
        "argument_added" => ipc2::worker::serve(argument_added::EvalServer(Worker)).await?,
        "argument_changed" => ipc2::worker::serve(argument_changed::EvalServer(Worker)).await?,
        "deep_field" => ipc2::worker::serve(deep_field::EvalServer(Worker)).await?,
        "variant_renamed" => ipc2::worker::serve(variant_renamed::EvalServer(Worker)).await?,
        other => return Err(format!("unknown SKEW {other:?}").into()),
    }
    Ok(())
}
