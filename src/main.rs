fn main() {
    // A closed pipe (`bundle diff A B | head -1`) ends the program quietly, as it ends other Unix
    // tools, instead of a panic in println!. Sockets are unaffected: Rust writes to them with
    // MSG_NOSIGNAL.
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(relbundle::main());
}
