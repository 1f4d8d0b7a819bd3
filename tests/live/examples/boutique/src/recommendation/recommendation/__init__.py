"""Live-test recommendation service (tests/live/examples.rs)."""
