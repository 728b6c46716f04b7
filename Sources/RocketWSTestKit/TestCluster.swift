import RocketWSClient

/// Several ``NodeProcess``es joined into one cluster on loopback, with peer ports fixed at start so that a
/// node can be restarted on its own address. Kills every process it started (``killAll()``, `deinit`).
///
/// ```swift
/// let cluster = try await TestCluster.start(count: 3)
/// defer { cluster.killAll() }
/// cluster.node(2).kill9()                                    // crash one
/// cluster.node(3).signal(SIGTERM)                            // stop one gracefully
/// try await cluster.startNode(2)                             // restart n2 (same name and peer port)
/// #expect(await cluster.waitForAlive(3))
/// print(cluster.node(2).log)
/// ```
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public final class TestCluster: @unchecked Sendable {  // `nodes` is only mutated by the test that owns the cluster
    public private(set) var nodes: [NodeProcess] = []
    public let peerPorts: [Int]
    public let extraArguments: [String]
    /// Arguments of node i (1-based) alone, e.g. its own certificate files.
    public let perNodeArguments: @Sendable (Int) -> [String]

    /// Starts `count` nodes n1...nN with `arguments` (and `perNode(i)`); n2... join through the others. Waits
    /// until every node sees all of them alive.
    public static func start(
        count: Int = 3, arguments: [String] = [], perNode: @escaping @Sendable (Int) -> [String] = { _ in [] }
    ) async throws -> TestCluster {
        let cluster = TestCluster(count: count, arguments: arguments, perNode: perNode)
        do {
            for i in 1...count { try await cluster.startNode(i) }
        } catch {
            cluster.killAll()
            throw error
        }
        guard await cluster.waitForAlive(count) else {
            cluster.dumpLogs()
            cluster.killAll()
            throw NodeProcessError(message: "cluster did not converge to \(count) alive members")
        }
        return cluster
    }

    private init(count: Int, arguments: [String], perNode: @escaping @Sendable (Int) -> [String]) {
        peerPorts = freePorts(count)
        extraArguments = arguments
        perNodeArguments = perNode
    }

    /// The name of node i: `n<i>`.
    public func name(_ i: Int) -> String { "n\(i)" }

    /// Starts (or restarts: the old process is killed first) node i (1-based) with the same name and peer
    /// port, joining through the others; `arguments` come last.
    @discardableResult
    public func startNode(_ i: Int, arguments: [String] = []) async throws -> NodeProcess {
        if nodes.count >= i { nodes[i - 1].kill9() }
        var args = ["--advertise", "127.0.0.1:\(peerPorts[i - 1])"] + extraArguments + perNodeArguments(i) + arguments
        let seeds = peerPorts.enumerated().filter { $0.offset != i - 1 }.map { "127.0.0.1:\($0.element)" }
        if i > 1 || nodes.count >= 1 { args += ["--join", seeds.joined(separator: ",")] }
        let node = try await NodeProcess.start(name: name(i), arguments: args, peerPort: peerPorts[i - 1])
        if nodes.count >= i { nodes[i - 1] = node } else { nodes.append(node) }
        return node
    }

    /// Node i (1-based).
    public func node(_ i: Int) -> NodeProcess { nodes[i - 1] }

    /// A MessagesSource client for node i.
    public func backend(_ i: Int) -> MessagesSourceClient { node(i).messagesSource() }

    /// A WebSocket client connected to node i.
    public func client(_ i: Int) async throws -> WebSocketClient { try await node(i).webSocket() }

    /// member name -> state, as node i sees it.
    public func states(seenBy i: Int) async -> [String: String] {
        let backend = backend(i)
        let states = await memberStates(backend)
        try? await backend.close()
        return states
    }

    /// Waits until each of `indexes` (every node by default) sees `count` alive members.
    public func waitForAlive(_ count: Int, among indexes: [Int]? = nil, timeout: Duration = .seconds(30)) async -> Bool {
        let which = indexes ?? Array(1...nodes.count)
        return await eventually(timeout: timeout) {
            for i in which where await states(seenBy: i).values.filter({ $0 == "alive" }).count != count { return false }
            return true
        }
    }

    /// Prints the end of every node's log (call it when a test fails).
    public func dumpLogs() {
        for node in nodes { print("----- log of \(node.name)\n\(node.log.suffix(6000))") }
    }

    /// Kills every node (SIGKILL).
    public func killAll() {
        for node in nodes { node.kill9() }
    }

    deinit { killAll() }
}
