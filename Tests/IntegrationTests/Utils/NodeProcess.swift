import Foundation
import RocketWSTestKit
import Synchronization

/// A `rocketws-node` process started from the built binary on 127.0.0.1 with ephemeral ports (read back from
/// its "node started" log line). Stopped by PID when the test is done.
final class NodeProcess: @unchecked Sendable {  // ports are written once before `start` returns
    let process: Process
    let name: String
    let logPath: String
    private let output = OutputLog()
    private(set) var ws = 0
    private(set) var ms = 0
    private(set) var peer = 0

    /// The directory holding the built binaries: `ROCKETWS_BIN_DIR` or `.build/debug` of this package.
    static var binDir: String {
        if let dir = ProcessInfo.processInfo.environment["ROCKETWS_BIN_DIR"] { return dir }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug").path
    }

    /// Starts a node; `arguments` come after the listener flags (a later flag wins).
    /// `host` is the address the three listeners bind; `networkNamespace` runs the node inside that
    /// namespace (`ip netns exec`, see `UnprivilegedLaunch`).
    static func start(
        name: String, arguments: [String] = [], environment: [String: String] = [:], peerPort: Int = 0,
        host: String = "127.0.0.1", networkNamespace: String? = nil
    ) async throws -> NodeProcess {
        let node = NodeProcess(
            name: name, arguments: arguments, environment: environment, peerPort: peerPort, host: host, networkNamespace: networkNamespace)
        try await node.waitUntilStarted()
        return node
    }

    private init(name: String, arguments: [String], environment: [String: String], peerPort: Int, host: String, networkNamespace: String?) {
        self.name = name
        process = Process()
        UnprivilegedLaunch.configure(
            process, executable: URL(fileURLWithPath: Self.binDir + "/rocketws-node"),
            arguments: [
                "--node-name", name, "--ws-conn", "\(host):0", "--ms-conn", "\(host):0",
                "--peer-conn", "\(host):\(peerPort)", "--log-level", "info",
            ] + arguments,
            networkNamespace: networkNamespace)
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ROCKETWS_") }
        for (key, value) in environment { env[key] = value }
        process.environment = env
        logPath = NSTemporaryDirectory() + "rocketws-test-\(name)-\(UUID().uuidString.prefix(8)).log"
        output.capture(process)
    }

    private func waitUntilStarted() async throws {
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        // One last look after the deadline too: a starved test task may wake up late.
        while true {
            if let line = log.split(separator: "\n").first(where: { $0.contains("node started") }) {
                ws = Self.field("node/ws", in: line) ?? 0
                ms = Self.field("node/ms", in: line) ?? 0
                peer = Self.field("node/peer", in: line) ?? 0
                return
            }
            guard process.isRunning, ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        stop(signal: SIGKILL)
        throw NodeProcessError(message: "node \(name) did not start:\n\(log)")
    }

    /// Runs the node binary with `arguments` alone (no listener defaults) until it exits (at most `timeout`):
    /// its exit status and everything it printed. For flags and files a node must refuse at start.
    static func run(arguments: [String], timeout: Duration = .seconds(20)) async throws -> (status: Int32, output: String) {
        let process = Process()
        UnprivilegedLaunch.configure(process, executable: URL(fileURLWithPath: binDir + "/rocketws-node"), arguments: arguments)
        let output = OutputLog()
        output.capture(process)
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? await Task.sleep(for: .milliseconds(50))  // the pipe's last bytes
        return (process.terminationStatus, output.text)
    }

    private static func field(_ key: String, in line: Substring) -> Int? {
        guard let range = line.range(of: key + "=") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// Everything the process printed so far.
    var log: String { output.text }

    var pid: Int32 { process.processIdentifier }

    /// Sends `signal` (SIGTERM by default).
    func stop(signal: Int32 = SIGTERM) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the process to exit; returns its status, or nil after `timeout`.
    func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Resident set size in KiB, from /proc.
    var residentKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }

    /// Kills the process if it still runs (tests call this in `defer`).
    func kill9() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit {
        kill9()
    }
}

struct NodeProcessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Text a process printed, appended from the pipe's reader thread.
final class OutputLog: Sendable {
    private let storage = Mutex<String>("")
    func append(_ text: String) { storage.withLock { $0 += text } }

    /// Makes `process` print into this log (standard output and error together), read as it comes.
    func capture(_ process: Process) {
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
    var text: String { storage.withLock { $0 } }
}
