# package marker (stand-in, tests/live.rs)
