// Private and `pub(crate)` services in modules, raw identifiers, `#[cfg]` on methods, an empty
// service, and a trait named `T` (generated generic parameters must not clash with it).

#[allow(dead_code)]
mod inner {
    #[ipc2::service]
    pub(crate) trait Crate {
        async fn r#match(&self, r#type: String) -> u8;
        #[cfg(any())]
        async fn compiled_out(&self, missing: DoesNotExist) -> DoesNotExist;
        #[cfg(all())]
        async fn compiled_in(&self) -> u8;
    }

    #[ipc2::service]
    trait Private {
        async fn hidden(&self) -> u8;
    }

    #[ipc2::service]
    pub trait Empty {}

    /// A user type named like the generic parameters of generated impls.
    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    pub struct T;

    #[ipc2::service]
    pub trait UsesT {
        async fn take(&self, t: T) -> T;
    }

    #[allow(dead_code)]
    fn _private(w: &PrivateWorkers) -> impl Future<Output = Result<u8, ipc2::Error>> + Send + '_ {
        w.hidden()
    }
}

#[ipc2::service]
pub trait T {
    async fn t(&self, x: u8) -> u8;
}

struct Impl;

impl inner::Crate for Impl {
    async fn r#match(&self, r#type: String) -> u8 {
        r#type.len() as u8
    }
    async fn compiled_in(&self) -> u8 {
        0
    }
}

impl inner::Empty for Impl {}

impl T for Impl {
    async fn t(&self, x: u8) -> u8 {
        x
    }
}

async fn _client(w: &inner::CrateWorkers, t: &TWorkers) -> Result<u8, ipc2::Error> {
    use inner::CrateClient;
    let _ = inner::CrateRequest::Match {
        r#type: String::new(),
    };
    w.compiled_in().await?;
    t.t(1).await?;
    w.r#match(String::new()).await
}

fn _serve() {
    let _ = ipc2::worker::serve(inner::CrateServer(Impl));
    let _ = ipc2::worker::serve(inner::EmptyServer(Impl));
    let _ = ipc2::worker::serve(TServer(Impl));
}

fn main() {
    _serve();
}
