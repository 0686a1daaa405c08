#[ipc2::service]
pub trait Calc {
    async fn len<'a>(&self, text: std::borrow::Cow<'a, str>) -> usize;
}

fn main() {}
