import Foundation
import RocketWSTestKit
import RocketWSClient
import Testing

/// A `rocketws-node` process from this package's build, on 127.0.0.1 with ephemeral ports read back
/// from its "node started" log line. Stopped by PID (``stop()``; `deinit` kills it as a last resort).
final class NodeLauncher: @unchecked Sendable {  // fields are set once in `start` before it returns
    let name: String
    /// The `--api-key` the node was started with (clients made by ``messagesSource()`` send it).
    let apiKey: String?
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

    private init(name: String, apiKey: String?) {
        self.name = name
        self.apiKey = apiKey
        self.logURL = FileManager.default.temporaryDirectory.appendingPathComponent(
            "admin-node-\(name)-\(UUID().uuidString.prefix(8)).log"
        )
    }

    /// Starts a node; with `apiKey` it is started with `--api-key`.
    static func start(
        name: String = "n1",
        apiKey: String? = nil,
        arguments: [String] = []
    ) async throws -> NodeLauncher {
        let node = NodeLauncher(name: name, apiKey: apiKey)
        try await node.launch((apiKey.map { ["--api-key", $0] } ?? []) + arguments)
        return node
    }

    /// Starts a node, runs `body` with it and stops it by PID whether `body` returns or throws
    /// (the node's log is recorded as an issue when it throws).
    static func with<T>(
        name: String = "n1",
        apiKey: String? = nil,
        arguments: [String] = [],
        _ body: (NodeLauncher) async throws -> T
    ) async throws -> T {
        let node = try await self.start(name: name, apiKey: apiKey, arguments: arguments)
        do {
            let result = try await body(node)
            await node.stop()
            return result
        } catch {
            Issue.record("rocketws-node \(name) log:\n\(node.log)")
            await node.stop()
            throw error
        }
    }

    /// A MessagesSource client for this node, with its API key.
    func messagesSource() throws -> MessagesSourceClient {
        try MessagesSourceClient(url: self.msURL, apiKey: self.apiKey)
    }

    /// The value of one sample of `GET /metrics` (`name` with its labels, e.g. `rocketws_peers{state="alive"}`),
    /// or nil when the node does not list it.
    func metric(_ name: String) async throws -> Double? {
        let client = try self.messagesSource()
        let response = try await client.get(path: "/metrics")
        try? await client.close()
        guard response.status == 200 else { throw StartError(description: "GET /metrics: \(response.status)") }
        for line in response.text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    private func launch(_ arguments: [String]) async throws {
        UnprivilegedLaunch.configure(
            self.process, executable: BinaryRunner.executable("rocketws-node"),
            arguments: [
                "--node-name", self.name, "--ws-conn", "127.0.0.1:0", "--ms-conn", "127.0.0.1:0",
                "--peer-conn", "127.0.0.1:0", "--log-level", "info",
            ] + arguments)
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
