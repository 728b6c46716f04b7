import Foundation

/// Where this package's built executables are, and how a test runs one to its end.
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public enum BinaryRunner {
    /// What a finished run left.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }
        /// Standard output, then standard error.
        public var output: String { stdout + stderr }
    }

    /// A run that outlived its timeout (the process was killed).
    public struct TimeoutError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The directory holding the built products: `ROCKETWS_BIN_DIR`, else the first directory above the test
    /// bundle that holds `rocketws-node` (`.build/debug`), else this package's `.build/debug`.
    public static var productsDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["ROCKETWS_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // .../debug/RocketWSPackageTests.xctest (Linux) or .../RocketWSPackageTests.xctest/Contents/MacOS/... (macOS)
        while !url.pathComponents.isEmpty, url.path != "/" {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("rocketws-node").path) {
                return url
            }
            url.deleteLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug")
    }

    /// This package's checkout (for scripts and README the tests read).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The built executable `name` (`rocketws-node`, `rocketws-admin`).
    public static func executable(_ name: String) -> URL { productsDirectory.appendingPathComponent(name) }

    /// The environment a test process gets: the test's own without any `ROCKETWS_` variable (so the caller's
    /// shell cannot configure the node or the admin tool behind a test's back), plus `overrides`.
    public static func environment(_ overrides: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ROCKETWS_") }
        for (key, value) in overrides { environment[key] = value }
        return environment
    }

    /// Runs the built `executable arguments…` (unprivileged, see ``UnprivilegedLaunch``) with `stdin` as input
    /// until it exits; kills it (by PID) and throws ``TimeoutError`` if it outlives `timeout`.
    public static func run(
        _ arguments: [String],
        executable name: String = "rocketws-admin",
        stdin: String = "",
        environment: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> Result {
        let process = Process()
        UnprivilegedLaunch.configure(process, executable: executable(name), arguments: arguments)
        process.environment = Self.environment(environment)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rocketws-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inURL = directory.appendingPathComponent("in")
        let outURL = directory.appendingPathComponent("out")
        let errURL = directory.appendingPathComponent("err")
        try Data(stdin.utf8).write(to: inURL)
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let input = try FileHandle(forReadingFrom: inURL)
        let output = try FileHandle(forWritingTo: outURL)
        let error = try FileHandle(forWritingTo: errURL)
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw TimeoutError(description: "\(name) \(arguments) did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        try? input.close()
        try? output.close()
        try? error.close()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        )
    }
}
