# Stand-in Reflexia for the live Arkalia test (tests/live.rs), shell run by the stand-in
# `python`: waits (its health check is `import modules.reflexia`).
exec busybox sleep 2147483647
