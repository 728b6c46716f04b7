#!/usr/bin/env bash
# Takes docs/images/demo.png, the README's picture of the demo page: BrowserTests' demo test (three nodes behind
# the compose nginx configuration, two tabs of /demo in Debian's headless Chromium, a message typed in each)
# captures the first tab once both messages are shown. Needs `make setup` (chromium) and a test build.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/images
swift build --build-tests
ROCKETWS_DEMO_SCREENSHOT="$PWD/docs/images/demo.png" swift test --skip-build --filter BrowserTests/messageTypedInTheDemoPage
echo "docs/images/demo.png: $(stat -c %s docs/images/demo.png) bytes"
