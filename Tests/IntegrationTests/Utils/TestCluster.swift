import Foundation
import RocketWSClient

/// Several `rocketws-node` processes joined into one cluster on loopback. Prints the nodes' logs when a test
/// fails (call `dumpLogs()`), and kills every process it started.
final class TestCluster: @unchecked Sendable {  // `nodes` is only mutated by the test that owns the cluster
    var nodes: [NodeProcess] = []
    let peerPorts: [Int]
    let extraArguments: [String]
    /// Arguments of node i (1-based) alone, e.g. its own certificate files.
    let perNodeArguments: @Sendable (Int) -> [String]

    /// Starts `count` nodes n1...nN; n2... join through n1. Waits until every node sees all alive.
    static func start(
        count: Int = 3, arguments: [String] = [], perNode: @escaping @Sendable (Int) -> [String] = { _ in [] }
    ) async throws -> TestCluster {
        let cluster = TestCluster(count: count, arguments: arguments, perNode: perNode)
        for i in 1...count { try await cluster.startNode(i) }
        guard await cluster.waitForAlive(count) else {
            cluster.dumpLogs()
            cluster.killAll()
            throw NodeProcessError(message: "cluster did not converge to \(count) alive members")
        }
        return cluster
    }

    private init(count: Int, arguments: [String], perNode: @escaping @Sendable (Int) -> [String]) {
        peerPorts = (0..<count).map { _ in freePort() }
        extraArguments = arguments
        perNodeArguments = perNode
    }

    func name(_ i: Int) -> String { "n\(i)" }

    /// Starts (or restarts) node i (1-based) with the same name and ports.
    @discardableResult
    func startNode(_ i: Int, arguments: [String] = []) async throws -> NodeProcess {
        var args = ["--advertise", "127.0.0.1:\(peerPorts[i - 1])"] + extraArguments + perNodeArguments(i) + arguments
        let seeds = peerPorts.enumerated().filter { $0.offset != i - 1 }.map { "127.0.0.1:\($0.element)" }
        if i > 1 || nodes.count >= 1 { args += ["--join", seeds.joined(separator: ",")] }
        let node = try await NodeProcess.start(name: name(i), arguments: args, peerPort: peerPorts[i - 1])
        if nodes.count >= i { nodes[i - 1] = node } else { nodes.append(node) }
        return node
    }

    func node(_ i: Int) -> NodeProcess { nodes[i - 1] }

    func backend(_ i: Int) -> MessagesSourceClient {
        MessagesSourceClient(host: "127.0.0.1", port: node(i).ms, requestTimeout: .seconds(20))
    }

    func client(_ i: Int) async throws -> WebSocketClient {
        try await WebSocketClient.connect(host: "127.0.0.1", port: node(i).ws)
    }

    /// member name -> state, as node i sees it.
    func states(seenBy i: Int) async -> [String: String] {
        guard let status = try? await backend(i).call(method: "cluster_status"), let members = status["members"]?.arrayValue else { return [:] }
        var states: [String: String] = [:]
        for member in members {
            if let name = member["name"]?.stringValue, let state = member["state"]?.stringValue { states[name] = state }
        }
        return states
    }

    /// Waits until every running node sees `count` alive members.
    func waitForAlive(_ count: Int, among indexes: [Int]? = nil, timeout: Duration = .seconds(30)) async -> Bool {
        let which = indexes ?? Array(1...nodes.count)
        return await eventually(timeout: timeout) {
            for i in which where await states(seenBy: i).values.filter({ $0 == "alive" }).count != count { return false }
            return true
        }
    }

    func dumpLogs() {
        for node in nodes { print("----- log of \(node.name)\n\(node.log.suffix(6000))") }
    }

    func killAll() {
        for node in nodes { node.kill9() }
    }

    deinit { killAll() }
}
