"""Live-test job queue (tests/live/examples.rs)."""
