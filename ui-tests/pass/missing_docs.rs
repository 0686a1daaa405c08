//! Generated items carry docs, so a documented service passes `deny(missing_docs)`.

#![deny(missing_docs)]

/// Errors of [`Calc::div`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DivByZero;

/// A calculator.
#[ipc2::service]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: u32, b: u32) -> u32;
    /// Divides.
    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero>;
    /// Resets.
    async fn reset(&self);
    /// Logs.
    #[ipc2(oneway)]
    async fn log(&self, line: String);
    /// Squares.
    fn square(&self, x: u64) -> u64;
}

/// A service with a single method.
#[ipc2::service]
pub trait Single {
    /// Echoes.
    async fn echo(&self, text: String) -> String;
}

fn main() {}
