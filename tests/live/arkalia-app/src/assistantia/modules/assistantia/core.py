# Stand-in AssistantIA for the live Arkalia test (tests/live.rs), shell run by the stand-in
# `python`: serves on 8080 as user 1001:1001.
exec busybox httpd -f -p 8080 -h /app/modules/assistantia
