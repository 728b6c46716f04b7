import Foundation
import RocketWSTestKit

/// Runs a built executable of this package (next to the test bundle) and captures its output.
enum BinaryRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [Substring] { self.stderr.split(separator: "\n", omittingEmptySubsequences: true) }
    }

    struct TimeoutError: Error, CustomStringConvertible {
        var description: String
    }

    /// The directory holding the built products (`.build/debug`).
    static var productsDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["ROCKETWS_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // .../debug/RocketWSPackageTests.xctest (Linux) or .../RocketWSPackageTests.xctest/Contents/MacOS/... (macOS)
        while !url.pathComponents.isEmpty, url.lastPathComponent != "/" {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("rocketws-admin").path) {
                return url
            }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug")
    }

    static func executable(_ name: String) -> URL { self.productsDirectory.appendingPathComponent(name) }

    /// Runs `name arguments…` with `stdin` as input; kills it (by PID) if it outlives `timeout`.
    static func run(
        _ arguments: [String],
        executable name: String = "rocketws-admin",
        stdin: String = "",
        environment: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> Result {
        let process = Process()
        UnprivilegedLaunch.configure(process, executable: self.executable(name), arguments: arguments)
        var env = ProcessInfo.processInfo.environment
        env["ROCKETWS_NODE"] = nil
        env["ROCKETWS_API_KEY"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("admin-\(UUID().uuidString)")
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
