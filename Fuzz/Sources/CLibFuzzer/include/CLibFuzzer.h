// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer). The fuzz targets call it from their own
// main: SwiftPM renames a Swift executable's entry point and aliases `main` to it, so libFuzzer's own `main`
// is never linked.
#pragma once
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
