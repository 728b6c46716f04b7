import Foundation
import NIOCore
import RocketWSClient
import RocketWSTestKit
import Testing

/// deploy/compose's nginx config in front of three real `rocketws-node` processes on loopback: WebSocket clients
/// and backends go through nginx, are spread over the nodes, and survive a node killed with SIGKILL.
///
/// The assertions about the cluster (an emit through nginx reaches the subscribers of every node) run for real
/// as soon as the nodes report three alive members; until then they are a known issue, unless
/// `clusterLayerLanded` is `true`, which makes a missing cluster a failure.
@Suite(.serialized) struct NginxTests {
    /// FLIP TO `true` WHEN THE CLUSTER LAYER IS ON MAIN (nodes started with `--join` form one cluster).
    static let clusterLayerLanded = true

    static let subscribers = 6

    @Test func webSocketAndMessagesSourceThroughNginxAreSpreadOverThreeNodes() async throws {
        let started = ContinuousClock.now
        let cluster = try await NginxCluster.start(prefix: "ngx")
        defer { cluster.stop() }
        let clustered = await Self.waitForCluster(cluster)

        // MessagesSource through nginx: /healthz without the key, JSON-RPC with it, 401 without it.
        let health = try await cluster.backend.get(path: "/healthz")
        #expect(health.status == 200)
        #expect(health.text.contains("ok"))
        let anonymous = MessagesSourceClient(host: "127.0.0.1", port: cluster.nginx.msPort)
        #expect(try await anonymous.postRaw(body: #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).status == 401)
        try? await anonymous.close()
        #expect(try await cluster.backend.call(method: "ping") == ["ping": "ok"])

        // WebSocket upgrade through nginx; least_conn spreads the clients over all three nodes.
        let clients = try await Self.connectSubscribers(cluster)
        #expect(try await clients[0].call(method: "heartbeat") == ["heartbeat": "ok"])
        let perNode = await Self.connectionsPerNode(cluster)
        #expect(perNode.reduce(0, +) == Self.subscribers, "rocketws_connections per node: \(perNode)")
        #expect(perNode.allSatisfy { $0 >= 1 }, "a node got no client: rocketws_connections per node \(perNode)")
        var homes: [String] = []
        for index in clients.indices {
            let holders = await cluster.nodesHolding("own-\(index)")
            #expect(holders.count == 1, "own-\(index) held by \(holders)")
            homes.append(holders.first ?? "?")
        }
        #expect(Set(homes) == Set(cluster.nodes.map(\.name)), "clients' nodes: \(homes)")

        // Emits through nginx: each reaches exactly the subscribers it reports, each at most once.
        let emits = 6
        let (results, received) = try await Self.emitAndCollect(cluster, clients: clients, seqs: 0..<emits)
        let reported = results.compactMap { $0["emitted"]?.intValue }.reduce(0, +)
        #expect(reported > 0)
        #expect(received.map(\.count).reduce(0, +) == reported, "received \(received), emit results \(results)")
        #expect(received.allSatisfy { Set($0).count == $0.count }, "a message arrived twice: \(received)")

        // The cluster: every emit reaches every subscriber, on all three nodes.
        await Self.clusterExpectations(clustered) {
            #expect(results.allSatisfy { $0 == ["emitted": .int(Self.subscribers), "nodes": 3] }, "emit results \(results)")
            #expect(received.allSatisfy { $0 == Array(0..<emits) }, "received \(received)")
        }
        for client in clients { try? await client.close() }
        try? await cluster.backend.close()
        print("nginx: spread \(perNode) over \(cluster.nodes.map(\.name)), clustered: \(clustered), \(ContinuousClock.now - started)")
    }

    @Test func clientsOfAKilledNodeReconnectThroughNginxAndReceiveTheNextEmits() async throws {
        let started = ContinuousClock.now
        let cluster = try await NginxCluster.start(prefix: "ngk")
        defer { cluster.stop() }
        let clustered = await Self.waitForCluster(cluster)
        var clients = try await Self.connectSubscribers(cluster)
        var homes: [String] = []
        for index in clients.indices { homes.append(await cluster.nodesHolding("own-\(index)").first ?? "?") }

        // SIGKILL the node holding the most clients.
        let victim = try #require(cluster.nodes.max { a, b in homes.count(of: a.name) < homes.count(of: b.name) })
        let orphans = clients.indices.filter { homes[$0] == victim.name }
        try #require(!orphans.isEmpty, "no client on \(victim.name): \(homes)")
        victim.kill9()

        // nginx drops exactly the victim's clients.
        for index in orphans {
            #expect(await eventually(timeout: .seconds(10)) { !clients[index].channel.isActive }, "client \(index) of \(victim.name) still connected")
        }
        for index in clients.indices where !orphans.contains(index) {
            #expect(clients[index].channel.isActive, "client \(index) on \(homes[index]) was dropped")
            #expect(try await clients[index].call(method: "heartbeat") == ["heartbeat": "ok"])
        }

        // They reconnect through nginx at the first attempt (nginx skips the dead node), resubscribe, and land on
        // the surviving nodes.
        for index in orphans {
            let (client, attempts) = try await cluster.connectThroughNginx()
            #expect(attempts == 1, "client \(index) needed \(attempts) attempts")
            try await client.subscribe("news")
            try await client.subscribe("own-\(index)")
            clients[index] = client
            let holders = await cluster.nodesHolding("own-\(index)")
            #expect(holders.count == 1 && !holders.contains(victim.name), "client \(index) now on \(holders)")
        }
        let survivors = cluster.nodes.filter { $0 !== victim }
        var perNode: [Int] = []
        for node in survivors { perNode.append(await cluster.connections(on: node) ?? -1) }
        #expect(perNode.reduce(0, +) == Self.subscribers, "connections on the survivors: \(perNode)")
        if clustered {
            // The survivors declare the victim dead (or it stops counting) before the emits, so that none waits on it.
            let settled = await eventually(timeout: .seconds(30)) {
                guard await cluster.everyNodeSeesAlive(2) else { return false }
                return (try? await cluster.backend.call(method: "total_subscribers", params: ["channel": "news"]))?["total"]?.intValue == Self.subscribers
            }
            #expect(settled, "the survivors still count \(victim.name) or its subscribers")
        }

        // Emits through nginx with one upstream dead: all accepted; round robin over the survivors reaches every
        // subscriber, the reconnected ones included.
        let emits = 10
        let (results, received) = try await Self.emitAndCollect(cluster, clients: clients, seqs: 100..<(100 + emits))
        let reported = results.compactMap { $0["emitted"]?.intValue }.reduce(0, +)
        #expect(received.map(\.count).reduce(0, +) == reported, "received \(received), emit results \(results)")
        for index in clients.indices {
            #expect(!received[index].isEmpty, "client \(index)\(orphans.contains(index) ? " (reconnected)" : "") received nothing")
            #expect(Set(received[index]).count == received[index].count, "client \(index) received a message twice")
        }

        // The cluster: every emit reaches all six subscribers on the two surviving nodes.
        await Self.clusterExpectations(clustered) {
            #expect(results.allSatisfy { $0 == ["emitted": .int(Self.subscribers), "nodes": 2] }, "emit results \(results)")
            #expect(received.allSatisfy { $0 == Array(100..<(100 + emits)) }, "received \(received)")
        }
        #expect(!cluster.nginx.errorLog.contains("[emerg]"))
        for client in clients { try? await client.close() }
        try? await cluster.backend.close()
        print("nginx: killed \(victim.name) holding \(orphans.count) clients; reconnected; clustered: \(clustered), \(ContinuousClock.now - started)")
    }

    // MARK: Helpers

    /// Waits for the three nodes to report three alive members: up to 20 s when a cluster is expected (the flag is
    /// set, or the nodes opened a peer listener), 2 s otherwise.
    static func waitForCluster(_ cluster: NginxCluster) async -> Bool {
        let expected = clusterLayerLanded || cluster.nodes.allSatisfy { $0.peerPort != 0 }
        return await eventually(timeout: .seconds(expected ? 20 : 2)) { await cluster.everyNodeSeesAlive(3) }
    }

    /// Cluster-wide expectations: real once the nodes formed a cluster (or the flag says they must), a known issue
    /// before the cluster layer lands.
    static func clusterExpectations(_ clustered: Bool, _ body: () async throws -> Void) async {
        if clusterLayerLanded || clustered {
            #expect(clustered, "the nodes did not report 3 alive members in cluster_status")
            do { try await body() } catch { Issue.record(error) }
        } else {
            await withKnownIssue("cluster layer not on main yet: nodes started with --join stay clusters of one", isIntermittent: true) {
                #expect(clustered)
                try await body()
            }
        }
    }

    /// Six WebSocket clients through nginx, each subscribed to "news" and to its own channel "own-INDEX".
    static func connectSubscribers(_ cluster: NginxCluster) async throws -> [WebSocketClient] {
        var clients: [WebSocketClient] = []
        for index in 0..<subscribers {
            let (client, _) = try await cluster.connectThroughNginx()
            try await client.subscribe("news")
            try await client.subscribe("own-\(index)")
            clients.append(client)
        }
        return clients
    }

    static func connectionsPerNode(_ cluster: NginxCluster) async -> [Int] {
        var perNode: [Int] = []
        for node in cluster.nodes { perNode.append(await cluster.connections(on: node) ?? -1) }
        return perNode
    }

    /// Emits `{"seq": N}` on "news" through nginx for each of `seqs`, one after the other; returns the results and
    /// the seqs each client received.
    static func emitAndCollect(_ cluster: NginxCluster, clients: [WebSocketClient], seqs: Range<Int>) async throws -> ([JSONValue], [[Int]]) {
        var results: [JSONValue] = []
        for seq in seqs {
            results.append(try await cluster.backend.call(method: "emit", params: ["channel": "news", "data": ["seq": .int(seq)]]))
        }
        let received = await withTaskGroup(of: (Int, [Int]).self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask { (index, await receivedSeqs(by: client, channel: "news", upTo: seqs.count)) }
            }
            var received = Array(repeating: [Int](), count: clients.count)
            for await (index, seqs) in group { received[index] = seqs }
            return received
        }
        return (results, received)
    }
}

/// `validate-compose.sh` (compose file, Dockerfile vs README, `nginx -t`) passes; skipped only when it found
/// nothing to check the compose file with (pip unreachable, no PyYAML).
@Suite struct NginxComposeValidationTests {
    @Test func validateComposeScriptPasses() async throws {
        let root = NginxProcess.repositoryRoot
        // The first run installs docker-compose into .build-venv (about a minute or two).
        let result = try await CommandRun.run(
            "/bin/bash", [root.appendingPathComponent("scripts/validate-compose.sh").path], .init(directory: root), timeout: .seconds(600))
        let text = result.output
        if result.status == 77 {
            try Test.cancel("validate-compose.sh could not check the compose file (pip unreachable, no PyYAML):\n\(text)")
        }
        #expect(result.status == 0, "scripts/validate-compose.sh:\n\(text)")
    }
}

extension Array where Element: Equatable {
    fileprivate func count(of element: Element) -> Int { filter { $0 == element }.count }
}
