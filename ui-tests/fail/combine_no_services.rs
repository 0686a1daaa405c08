ipc2::combine!(pub Tools:);

fn main() {}
