#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Terminal output without touching the C `stdout`/`stderr` globals.
enum Console {
    /// Writes `line` and a newline to stderr, after flushing stdout so the two stay in order.
    static func error(_ line: String) {
        self.flush()
        let text = line + "\n"
        _ = text.utf8CString.withUnsafeBufferPointer { pointer in
            write(STDERR_FILENO, pointer.baseAddress, pointer.count - 1)
        }
    }

    /// Flushes every C stream (print() buffers stdout).
    static func flush() {
        fflush(nil)
    }

    static var stdinIsTerminal: Bool { isatty(STDIN_FILENO) != 0 }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }
}
