fn main() {
    std::process::exit(relbundle::main());
}
