//! roster-bench: the performance harness (being built).

fn main() {
    eprintln!("roster-bench: not built yet");
    std::process::exit(2);
}
