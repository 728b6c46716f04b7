import Foundation

/// Runs a command to its end and captures what it printed: the one way the tests run a tool (`openssl`, `ip`,
/// `curl`, a script) or one of this package's executables (``BinaryRunner``) to completion. Output goes through
/// files, so a chatty command never blocks on a full pipe.
///
/// ```swift
/// let result = try await CommandRun.run("/usr/bin/curl", ["-sS", url])      // status, stdout, stderr
/// let text = try CommandRun.runBlocking("/usr/sbin/ip", ["netns", "list"]).succeeded()
/// ```
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public enum CommandRun {
    /// What a finished run left.
    public struct Result: Sendable {
        public var command: String
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }
        /// Standard output, then standard error.
        public var output: String { stdout + stderr }

        /// Standard output when the command exited 0; else ``Failure`` with its status and standard error.
        @discardableResult
        public func succeeded() throws -> String {
            guard status == 0 else { throw Failure(description: "\(command): exit \(status): \(stderr)") }
            return stdout
        }
    }

    /// A command that outlived its timeout (it was killed), or exited non-zero where ``Result/succeeded()`` was asked.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// How a command is run.
    public struct Options: Sendable {
        /// Given to the command's standard input.
        public var stdin = ""
        /// The whole environment; nil: the test's own.
        public var environment: [String: String]?
        /// Working directory; nil: the test's.
        public var directory: URL?
        /// Runs it as the unprivileged test user (``UnprivilegedLaunch``).
        public var unprivileged = false

        public init(stdin: String = "", environment: [String: String]? = nil, directory: URL? = nil, unprivileged: Bool = false) {
            self.stdin = stdin
            self.environment = environment
            self.directory = directory
            self.unprivileged = unprivileged
        }
    }

    /// Whether `executable` is installed (a test of an optional tool skips without it).
    public static func isInstalled(_ executable: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: executable)
    }

    /// Runs `executable arguments…` until it exits, polling without holding a thread; kills it (by PID) and
    /// throws ``Failure`` when it outlives `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], _ options: Options = Options(), timeout: Duration = .seconds(60)
    ) async throws -> Result {
        let running = try Running(executable, arguments, options)
        let deadline = ContinuousClock.now + timeout
        while running.process.isRunning {
            if ContinuousClock.now > deadline {
                running.kill()
                throw Failure(description: "\(running.command) did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try running.finish()
    }

    /// As ``run(_:_:_:timeout:)``, on the calling thread and without a timeout (short tools in synchronous code).
    public static func runBlocking(_ executable: String, _ arguments: [String], _ options: Options = Options()) throws -> Result {
        let running = try Running(executable, arguments, options)
        running.process.waitUntilExit()
        return try running.finish()
    }

    /// A started command and the files it writes to.
    private struct Running {
        let process = Process()
        let command: String
        let directory: URL
        let handles: [FileHandle]

        init(_ executable: String, _ arguments: [String], _ options: Options) throws {
            command = ([executable] + arguments).joined(separator: " ")
            if options.unprivileged {
                UnprivilegedLaunch.configure(process, executable: URL(fileURLWithPath: executable), arguments: arguments)
            } else {
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
            }
            if let environment = options.environment { process.environment = environment }
            if let workingDirectory = options.directory { process.currentDirectoryURL = workingDirectory }
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("rocketws-run-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(options.stdin.utf8).write(to: directory.appendingPathComponent("in"))
            for name in ["out", "err"] { _ = FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: nil) }
            let input = try FileHandle(forReadingFrom: directory.appendingPathComponent("in"))
            let output = try FileHandle(forWritingTo: directory.appendingPathComponent("out"))
            let error = try FileHandle(forWritingTo: directory.appendingPathComponent("err"))
            handles = [input, output, error]
            process.standardInput = input
            process.standardOutput = output
            process.standardError = error
            try process.run()
        }

        func kill() {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            cleanUp()
        }

        func finish() throws -> Result {
            process.waitUntilExit()
            defer { cleanUp() }
            return Result(
                command: command, status: process.terminationStatus,
                stdout: String(decoding: try Data(contentsOf: directory.appendingPathComponent("out")), as: UTF8.self),
                stderr: String(decoding: try Data(contentsOf: directory.appendingPathComponent("err")), as: UTF8.self))
        }

        private func cleanUp() {
            for handle in handles { try? handle.close() }
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
