import Foundation
import Synchronization

/// Text a child process printed (standard output and error together), appended from the pipe's reader thread
/// as it comes: the one way the tests capture a process's output while it runs.
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public final class OutputLog: Sendable {
    private let storage = Mutex<String>("")

    public init() {}

    /// Makes `process` print into this log; call before `process.run()`.
    public func capture(_ process: Process) {
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            append(String(decoding: data, as: UTF8.self))
        }
    }

    /// Adds `text` at the end.
    public func append(_ text: String) { storage.withLock { $0 += text } }

    /// Everything captured so far.
    public var text: String { storage.withLock { $0 } }
}
