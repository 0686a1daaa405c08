mod a {
    #[ipc2::service]
    pub trait Store {
        async fn get(&self, key: String) -> Option<String>;
    }
}

mod b {
    #[ipc2::service]
    pub trait Store {
        async fn put(&self, key: String, value: String);
    }
}

ipc2::combine!(pub Tools: a::Store, b::Store);

fn main() {}
