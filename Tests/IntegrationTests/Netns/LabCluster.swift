import Foundation
import RocketWSClient
import RocketWSTestKit
import Synchronization

/// `count` nodes n1...nN, each alone in its own network namespace of a `NetworkLab` (host i of the lab), on
/// the default ports of its own address; n2... join through the others. Clients in the test process reach
/// them through the lab's bridge. A spare lab host (index count + 1) is there for clients that must have a
/// link of their own.
final class LabCluster: @unchecked Sendable {  // nodes are written by the owning test only
    static let wsPort = 58000
    static let msPort = 59999
    static let peerPort = 59998

    let lab: NetworkLab
    let count: Int
    let arguments: [String]
    private(set) var nodes: [NodeProcess] = []

    /// Short liveness times so that a fault test takes seconds.
    static let fastLiveness = ["--ping-interval-s", "1", "--pong-timeout-s", "1", "--handshake-timeout-s", "2"]

    static func start(count: Int = 3, arguments: [String] = fastLiveness) async throws -> LabCluster {
        let cluster = try LabCluster(count: count, arguments: arguments)
        do {
            for i in 1...count { try await cluster.startNode(i) }
            guard await cluster.waitForAlive(among: Array(1...count), timeout: .seconds(30)) else {
                throw NodeProcessError(message: "the lab cluster did not converge:\n\(cluster.logs())")
            }
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    private init(count: Int, arguments: [String]) throws {
        lab = try NetworkLab(hosts: count + 1)
        self.count = count
        self.arguments = arguments
    }

    func name(_ i: Int) -> String { "n\(i)" }
    func address(_ i: Int) -> String { lab.address(i) }
    func node(_ i: Int) -> NodeProcess { nodes[i - 1] }

    private func startNode(_ i: Int) async throws {
        let seeds = (1...count).filter { $0 != i }.map { "\(address($0)):\(Self.peerPort)" }
        var args = ["--advertise", "\(address(i)):\(Self.peerPort)"] + arguments
        args += ["--ws-conn", "\(address(i)):\(Self.wsPort)", "--ms-conn", "\(address(i)):\(Self.msPort)"]
        if i > 1 { args += ["--join", seeds.joined(separator: ",")] }
        let node = try await NodeProcess.start(
            name: name(i), arguments: args, host: address(i), peerPort: Self.peerPort, networkNamespace: lab.namespace(i))
        nodes.append(node)
    }

    /// A backend connection to node i (short timeout: a cut node must not stall a poll for long).
    func backend(_ i: Int, timeout: Duration = .seconds(3)) -> MessagesSourceClient {
        MessagesSourceClient(host: address(i), port: Self.msPort, requestTimeout: timeout)
    }

    /// member name -> state as node i reports it.
    func states(seenBy i: Int) async -> [String: String] {
        let client = backend(i, timeout: .seconds(2))
        defer { Task { try? await client.close() } }
        return await memberStates(client)
    }

    func waitForAlive(among observers: [Int], members: Int? = nil, timeout: Duration) async -> Bool {
        await eventually(timeout: timeout) {
            for i in observers where await states(seenBy: i).values.filter({ $0 == "alive" }).count != (members ?? count) { return false }
            return true
        }
    }

    /// The path of one of the fault scripts (`scripts/netfault/`).
    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/netfault/\(name)").path
    }

    /// The number of open file descriptors of node i.
    func openFiles(_ i: Int) -> Int { node(i).openFiles }

    /// Node i's metrics now (empty when it does not answer).
    func metrics(_ i: Int) async -> MetricsScrape {
        let client = backend(i)
        let scrape = (try? await MetricsScrape.scrape(client)) ?? MetricsScrape(text: "")
        try? await client.close()
        return scrape
    }

    func logs() -> String {
        nodes.map { "----- log of \($0.name)\n\($0.log.suffix(5000))" }.joined(separator: "\n")
    }

    func stop() {
        for node in nodes { node.kill9() }
        lab.tearDown()
    }

    deinit { stop() }
}

/// A process run inside a lab namespace (a client that needs a link of its own), its output lines collected.
final class NamespacedProcess: @unchecked Sendable {  // `process` is set up before run and only read after
    let process = Process()
    private let output = OutputLog()

    init(lab: NetworkLab, host: Int, command: [String]) throws {
        process.executableURL = URL(fileURLWithPath: UnprivilegedLaunch.ipPath)
        process.arguments = ["netns", "exec", lab.namespace(host)] + command
        output.capture(process)
        try process.run()
    }

    var lines: [String] { output.text.split(separator: "\n").map(String.init) }

    /// Waits until a line satisfies `match`; the line, or nil after `timeout`.
    func waitForLine(timeout: Duration, _ match: (String) -> Bool) async -> String? {
        var found: String?
        _ = await eventually(timeout: timeout) {
            found = lines.first(where: match)
            return found != nil || !process.isRunning && lines.first(where: match) != nil
        }
        return found ?? lines.first(where: match)
    }

    func kill9() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { kill9() }
}
