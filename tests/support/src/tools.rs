//! `Calc` and `Store` on one worker set, combined as `Tools`, for `tests/combined.rs` and the
//! `tools_worker` helper: one combination both sides agree on. It lives beside the two services
//! because `combine!` implements `Call<CalcRequest, CalcResponse>` (and the same for `Store`) for
//! the combined set, which the orphan rule allows only in the crate that defines those types.

ipc2::combine!(pub Tools: crate::calc::Calc, crate::store::Store);
