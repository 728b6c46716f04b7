import Foundation

/// Runs a command to its end and captures what it printed (standard output and error together).
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public enum CommandRun {
    /// The exit status and output of `executable arguments…`, run off the caller's thread; nil when
    /// `executable` is not installed.
    public static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String)? {
        guard FileManager.default.isExecutableFile(atPath: executable) else { return nil }
        return try await Task.detached { try runBlocking(executable, arguments) }.value
    }

    /// As `run`, on the calling thread.
    public static func runBlocking(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
