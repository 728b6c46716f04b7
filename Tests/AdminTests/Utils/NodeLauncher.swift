import Foundation

/// A `rocketws-node` process from this package's build, on 127.0.0.1 with ephemeral ports read back
/// from its "node started" log line. Stopped by PID (``stop()``; `deinit` kills it as a last resort).
final class NodeLauncher: @unchecked Sendable {  // fields are set once in `start` before it returns
    let name: String
    let process = Process()
    let logURL: URL
    private(set) var wsPort = 0
    private(set) var msPort = 0
    private(set) var peerPort = 0

    var msURL: String { "http://127.0.0.1:\(self.msPort)" }
    var wsURL: String { "ws://127.0.0.1:\(self.wsPort)/" }
    var peerAddress: String { "127.0.0.1:\(self.peerPort)" }
    var log: String { (try? String(contentsOf: self.logURL, encoding: .utf8)) ?? "" }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    private init(name: String) {
        self.name = name
        self.logURL = FileManager.default.temporaryDirectory.appendingPathComponent(
            "admin-node-\(name)-\(UUID().uuidString.prefix(8)).log"
        )
    }

    static func start(name: String = "n1", arguments: [String] = []) async throws -> NodeLauncher {
        let node = NodeLauncher(name: name)
        try await node.launch(arguments)
        return node
    }

    private func launch(_ arguments: [String]) async throws {
        self.process.executableURL = BinaryRunner.executable("rocketws-node")
        self.process.arguments =
            [
                "--node-name", self.name, "--ws-conn", "127.0.0.1:0", "--ms-conn", "127.0.0.1:0",
                "--peer-conn", "127.0.0.1:0", "--log-level", "info",
            ] + arguments
        self.process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ROCKETWS_") }
        _ = FileManager.default.createFile(atPath: self.logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: self.logURL)
        self.process.standardOutput = handle
        self.process.standardError = handle
        self.process.standardInput = FileHandle.nullDevice
        try self.process.run()
        try? handle.close()
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while ContinuousClock.now < deadline {
            if let line = self.log.split(separator: "\n").first(where: { $0.contains("node started") }) {
                self.wsPort = Self.field("node/ws", in: line) ?? 0
                self.msPort = Self.field("node/ms", in: line) ?? 0
                self.peerPort = Self.field("node/peer", in: line) ?? 0
                guard self.wsPort > 0, self.msPort > 0 else { break }
                return
            }
            guard self.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        self.kill()
        throw StartError(description: "rocketws-node \(self.name) did not start: \(self.log)")
    }

    private static func field(_ key: String, in line: Substring) -> Int? {
        guard let range = line.range(of: key + "=") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// SIGTERM, then SIGKILL if the node is still running after `timeout`.
    func stop(timeout: Duration = .seconds(15)) async {
        guard self.process.isRunning else { return }
        Foundation.kill(self.process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while self.process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        self.kill()
        try? FileManager.default.removeItem(at: self.logURL)
    }

    private func kill() {
        if self.process.isRunning {
            Foundation.kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
    }

    deinit {
        self.kill()
    }
}
