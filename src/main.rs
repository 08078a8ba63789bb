//! The `ferry` binary: parse flags, run, map the error to an exit code.
fn main() -> std::process::ExitCode {
    ferry::main()
}
