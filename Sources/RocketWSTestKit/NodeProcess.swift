import Foundation
import RocketWSClient

/// One `rocketws-node` process from this package's build, started unprivileged (``UnprivilegedLaunch``) with
/// ephemeral ports that are read back from its "node started" log line: the one launcher of the multi-process
/// tests. Everything the node prints is kept in ``log``. `deinit` kills it as a last resort.
///
/// ```swift
/// let node = try await NodeProcess.start(name: "n1", arguments: ["--max-message-bytes", "2048"])
/// defer { node.kill9() }
/// let backend = node.messagesSource()              // MessagesSource client, with the node's API key
/// node.signal(SIGTERM)                             // or: await node.terminate() (SIGTERM, wait, SIGKILL)
/// #expect(await node.waitForExit() == 0)
/// print(node.log)
/// ```
///
/// Several nodes joined into one cluster: ``TestCluster``. A node inside a network namespace: `networkNamespace`.
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public final class NodeProcess: @unchecked Sendable {  // ports are written once before `start` returns
    /// How a node is started; ``restart()`` starts a new process with the same.
    public struct Options: Sendable {
        public var name: String
        /// Flags after the listener flags (a later flag wins).
        public var arguments: [String]
        /// Variables on top of the test's environment (which loses every `ROCKETWS_` variable).
        public var environment: [String: String]
        /// The address the three listeners bind.
        public var host: String
        /// The peer listener's port; 0 for an ephemeral one.
        public var peerPort: Int
        /// Started with `--api-key` when set; ``messagesSource()`` sends it.
        public var apiKey: String?
        /// Runs the node inside this network namespace (`ip netns exec`, needs root).
        public var networkNamespace: String?
        /// How long the node may take to print "node started".
        public var startTimeout: Duration = .seconds(60)
    }

    public let options: Options
    public let process = Process()
    private let output = OutputLog()
    public private(set) var wsPort = 0
    public private(set) var msPort = 0
    public private(set) var peerPort = 0

    public var name: String { options.name }
    public var host: String { options.host }
    public var apiKey: String? { options.apiKey }
    /// The node's process id (its own, not a wrapper's: signals reach it directly).
    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    /// Everything the process printed so far (standard output and error).
    public var log: String { output.text }

    /// `http://HOST:MS_PORT`, for clients and `rocketws-admin --node`.
    public var msURL: String { "http://\(host):\(msPort)" }
    /// `ws://HOST:WS_PORT/`.
    public var wsURL: String { "ws://\(host):\(wsPort)/" }
    /// `HOST:PEER_PORT`, for another node's `--join`.
    public var peerAddress: String { "\(host):\(peerPort)" }

    /// Starts a node called `name` listening on `host` (WebSocket and MessagesSource on ephemeral ports, the
    /// peer listener on `peerPort`) and waits for its "node started" line.
    /// - Throws: ``NodeProcessError`` with the node's output when it exits or stays silent.
    public static func start(
        name: String, arguments: [String] = [], environment: [String: String] = [:], host: String = "127.0.0.1",
        peerPort: Int = 0, apiKey: String? = nil, networkNamespace: String? = nil
    ) async throws -> NodeProcess {
        try await start(
            Options(
                name: name, arguments: arguments, environment: environment, host: host, peerPort: peerPort, apiKey: apiKey,
                networkNamespace: networkNamespace))
    }

    /// Starts a node with `options`.
    public static func start(_ options: Options) async throws -> NodeProcess {
        let node = NodeProcess(options: options)
        try await node.waitUntilStarted()
        return node
    }

    /// Starts a node, runs `body` with it, and stops it (``terminate(timeout:)``) whether `body` returns or
    /// throws; when it throws, the node's log is printed first.
    public static func with<T>(
        name: String = "n1", apiKey: String? = nil, arguments: [String] = [], _ body: (NodeProcess) async throws -> T
    ) async throws -> T {
        let node = try await start(name: name, arguments: arguments, apiKey: apiKey)
        do {
            let result = try await body(node)
            await node.terminate()
            return result
        } catch {
            print("----- log of rocketws-node \(name)\n\(node.log)")
            await node.terminate()
            throw error
        }
    }

    /// Kills this process if it still runs and starts a new one with the same options (same name; an ephemeral
    /// port is a new one).
    public func restart() async throws -> NodeProcess {
        kill9()
        return try await Self.start(options)
    }

    private init(options: Options) {
        self.options = options
        let listeners = [
            "--node-name", options.name, "--ws-conn", "\(options.host):0", "--ms-conn", "\(options.host):0",
            "--peer-conn", "\(options.host):\(options.peerPort)", "--log-level", "info",
        ]
        UnprivilegedLaunch.configure(
            process, executable: BinaryRunner.executable("rocketws-node"),
            arguments: listeners + (options.apiKey.map { ["--api-key", $0] } ?? []) + options.arguments,
            networkNamespace: options.networkNamespace)
        process.environment = BinaryRunner.environment(options.environment)
        process.standardInput = FileHandle.nullDevice
        output.capture(process)
    }

    private func waitUntilStarted() async throws {
        try process.run()
        let deadline = ContinuousClock.now + options.startTimeout
        // One last look after the deadline too: a starved test task may wake up late.
        while true {
            if let line = log.split(separator: "\n").first(where: { $0.contains("node started") }) {
                wsPort = Self.field("node/ws", in: line) ?? 0
                msPort = Self.field("node/ms", in: line) ?? 0
                peerPort = Self.field("node/peer", in: line) ?? 0
                return
            }
            guard process.isRunning, ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill9()
        throw NodeProcessError(message: "node \(name) did not start:\n\(log)")
    }

    private static func field(_ key: String, in line: Substring) -> Int? {
        guard let range = line.range(of: key + "=") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    // MARK: Clients

    /// A MessagesSource client for this node, with its API key.
    public func messagesSource(requestTimeout: Duration = .seconds(20)) -> MessagesSourceClient {
        MessagesSourceClient(host: host, port: msPort, apiKey: apiKey, requestTimeout: requestTimeout)
    }

    /// A WebSocket client connected to this node.
    public func webSocket(headers: [(String, String)] = []) async throws -> WebSocketClient {
        try await WebSocketClient.connect(host: host, port: wsPort, headers: headers)
    }

    /// This node's `GET /metrics`, scraped now.
    public func metrics() async throws -> MetricsScrape {
        let client = messagesSource()
        do {
            let scrape = try await MetricsScrape.scrape(client)
            try? await client.close()
            return scrape
        } catch {
            try? await client.close()
            throw error
        }
    }

    /// The value of one sample of this node's `GET /metrics` (see ``MetricsScrape/value(_:_:)``).
    public func metric(_ name: String, _ labels: String? = nil) async throws -> Double? {
        try await metrics().value(name, labels)
    }

    // MARK: Stopping

    /// Sends `signal` (SIGTERM by default) if the process still runs.
    public func signal(_ signal: Int32 = SIGTERM) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the process to exit; its status, or nil when it still runs after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGTERM, then SIGKILL if the node still runs after `timeout`: the exit status of a node that stopped
    /// by itself, nil when it had to be killed.
    @discardableResult
    public func terminate(timeout: Duration = .seconds(15)) async -> Int32? {
        signal(SIGTERM)
        let status = await waitForExit(timeout: timeout)
        kill9()
        return status
    }

    /// SIGKILL and wait for the process to end (tests call this in `defer`).
    public func kill9() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Resident set size in KiB, from /proc.
    public var residentKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }

    /// The number of open file descriptors, from /proc (-1 when unknown).
    public var openFiles: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    deinit {
        kill9()
    }
}

/// A test process or cluster that did not come up (its output in the message).
public struct NodeProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}
