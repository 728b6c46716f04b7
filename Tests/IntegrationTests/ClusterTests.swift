import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// Three real node processes joined on loopback: the cluster guarantees of the contract, end to end.
@Suite(.serialized) struct ClusterTests {
    @Test func emitToAnyNodeReachesSubscribersEverywhere() async throws {
        let cluster = try await TestCluster.start()
        defer { cluster.killAll() }
        let onN2 = try await cluster.client(2)
        let onN3 = try await cluster.client(3)
        try await onN2.subscribe("news")
        try await onN3.subscribe("news")
        let result = try await cluster.backend(1).call(method: "emit", params: ["channel": "news", "data": ["headline": "cluster"]])
        #expect(result == ["emitted": 2, "nodes": 2])
        for client in [onN2, onN3] {
            let pushed = try #require(try await client.nextMessage())
            #expect(pushed["headline"] == "cluster")
            #expect(pushed["__channel"] == "news")
            #expect(pushed["__type"] == "message")
        }
        // Cluster-wide views answer the same on every node.
        for i in 1...3 {
            let backend = cluster.backend(i)
            #expect(try await backend.call(method: "total_subscribers", params: ["channel": "news"]) == ["total": 2, "nodes": ["n2": 1, "n3": 1]])
            #expect(try await backend.call(method: "available_channels") == ["news"])
            let status = try await backend.call(method: "cluster_status")
            #expect(status["node"]?.stringValue == "n\(i)")
            #expect(status["members"]?.arrayValue?.count == 3)
            #expect(status["channels"] == [["channel": "news", "subscribers": 2, "nodes": 2]])
        }
    }

    @Test func forwardsGoOnlyToNodesWithSubscribers() async throws {
        let cluster = try await TestCluster.start()
        defer { cluster.killAll() }
        let onN2 = try await cluster.client(2)
        try await onN2.subscribe("only-n2")
        let backend = cluster.backend(1)
        for n in 0..<20 {
            #expect(try await backend.call(method: "emit", params: ["channel": "only-n2", "data": ["n": .int(n)]]) == ["emitted": 1, "nodes": 1])
        }
        for n in 0..<20 { #expect(try await onN2.nextMessage()?["n"] == .int(n)) }
        #expect(try await cluster.node(3).metric("rocketws_forwards_received_total") == 0)
        #expect(try await cluster.node(2).metric("rocketws_forwards_received_total") == 20)
    }

    @Test func notifyAllAndSendDataCrossNodes() async throws {
        let cluster = try await TestCluster.start()
        defer { cluster.killAll() }
        let clients = [try await cluster.client(1), try await cluster.client(2), try await cluster.client(3)]
        // A first answer shows the node has the session registered (the 101 can reach the client just before).
        for client in clients { #expect(try await client.call(method: "heartbeat") == ["heartbeat": "ok"]) }
        let result = try await cluster.backend(2).call(method: "notify_all", params: ["data": ["all": true]])
        #expect(result == ["notified": 3, "nodes": 3])
        for client in clients {
            let pushed = try #require(try await client.nextMessage())
            #expect(pushed["__type"] == "broadcast")
            #expect(pushed["all"] == true)
        }
        try await clients[0].subscribe("room")
        try await clients[2].subscribe("room")
        let sent = try await clients[0].call(method: "send_data", params: ["channel": "room", "data": ["from": "n1"]])
        #expect(sent == ["emitted": 1])
        #expect(try await clients[2].nextMessage()?["from"] == "n1")
        #expect(try await clients[0].nextMessage(timeout: .milliseconds(300)) == nil)
    }

    @Test func orderedEmitsArriveInOrderOnAnotherNode() async throws {
        let cluster = try await TestCluster.start()
        defer { cluster.killAll() }
        let subscriber = try await cluster.client(2)
        try await subscriber.subscribe("seq")
        let backend = cluster.backend(1)
        let total = 2000
        let receiver = Task { () -> [Int] in
            var seen: [Int] = []
            while seen.count < total, let message = try await subscriber.nextMessage(timeout: .seconds(20)) {
                if let seq = message["seq"]?.intValue { seen.append(seq) }
            }
            return seen
        }
        for seq in 0..<total {
            _ = try await backend.call(method: "emit", params: ["channel": "seq", "data": ["seq": .int(seq)]])
        }
        let seen = try await receiver.value
        #expect(seen.count == total)
        #expect(seen == Array(0..<total), "lost, duplicated or reordered")
        #expect(try await subscriber.nextMessage(timeout: .milliseconds(300)) == nil)
    }

    @Test func subscribeIsVisibleClusterWideWhenAcknowledged() async throws {
        let cluster = try await TestCluster.start()
        defer { cluster.killAll() }
        let backend = cluster.backend(1)
        var received = 0
        for attempt in 0..<30 {
            let client = try await cluster.client(2 + attempt % 2)
            let channel = "fresh-\(attempt)"
            try await client.subscribe(channel)
            let result = try await backend.call(method: "emit", params: ["channel": .string(channel), "data": ["attempt": .int(attempt)]])
            #expect(result == ["emitted": 1, "nodes": 1], "attempt \(attempt)")
            if try await client.nextMessage(timeout: .seconds(5))?["attempt"] == .int(attempt) { received += 1 }
            try await client.close()
        }
        #expect(received == 30)
    }

    @Test func crashedNodeIsDeclaredDeadAndRejoinsWhenRestarted() async throws {
        let cluster = try await TestCluster.start()
        defer { cluster.killAll() }
        let onN2 = try await cluster.client(2)
        try await onN2.subscribe("live")
        let killedAt = ContinuousClock.now
        cluster.node(3).kill9()
        var detection: Duration?
        var emitsDuringOutage = 0
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            // Emits to the others keep working while n3 is down.
            let result = try await cluster.backend(1).call(method: "emit", params: ["channel": "live", "data": ["k": .int(emitsDuringOutage)]])
            #expect(result == ["emitted": 1, "nodes": 1])
            emitsDuringOutage += 1
            let seenBy1 = await cluster.states(seenBy: 1)["n3"]
            let seenBy2 = await cluster.states(seenBy: 2)["n3"]
            if seenBy1 == "dead", seenBy2 == "dead" {
                detection = ContinuousClock.now - killedAt
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let detected = try #require(detection, "n3 was not declared dead")
        print("failure detection: n3 declared dead on n1 and n2 after \(detected)")
        #expect(detected < .seconds(5))
        for k in 0..<emitsDuringOutage { #expect(try await onN2.nextMessage()?["k"] == .int(k)) }

        try await cluster.startNode(3)
        #expect(await cluster.waitForAlive(3, timeout: .seconds(15)), "restarted n3 did not rejoin")
        let onN3 = try await cluster.client(3)
        try await onN3.subscribe("live")
        let result = try await cluster.backend(1).call(method: "emit", params: ["channel": "live", "data": ["back": true]])
        #expect(result == ["emitted": 2, "nodes": 2])
        #expect(try await onN3.nextMessage()?["back"] == true)
    }

    @Test func sigtermedNodeIsLeftOnTheOthersAndExitsZero() async throws {
        let cluster = try await TestCluster.start()
        defer { cluster.killAll() }
        let stoppedAt = ContinuousClock.now
        cluster.node(3).signal(SIGTERM)
        let left = await eventually(timeout: .seconds(10)) {
            let one = await cluster.states(seenBy: 1)["n3"]
            let two = await cluster.states(seenBy: 2)["n3"]
            return one == "left" && two == "left"
        }
        #expect(left)
        print("graceful leave: n3 'left' on n1 and n2 after \(ContinuousClock.now - stoppedAt)")
        #expect(await cluster.node(3).waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func nodeWithAWrongSecretNeverJoins() async throws {
        let cluster = try await TestCluster.start(count: 2, arguments: ["--cluster-secret", "right"])
        defer { cluster.killAll() }
        let intruderPeer = freePort()
        let intruder = try await NodeProcess.start(
            name: "intruder",
            arguments: ["--cluster-secret", "wrong", "--join", "127.0.0.1:\(cluster.peerPorts[0])", "--advertise", "127.0.0.1:\(intruderPeer)"],
            peerPort: intruderPeer
        )
        defer { intruder.kill9() }
        let spy = try await WebSocketClient.connect(host: "127.0.0.1", port: intruder.wsPort)
        try await spy.subscribe("secrets")
        let member = try await cluster.client(2)
        try await member.subscribe("secrets")
        try await Task.sleep(for: .seconds(2))
        let result = try await cluster.backend(1).call(method: "emit", params: ["channel": "secrets", "data": ["x": 1]])
        #expect(result == ["emitted": 1, "nodes": 1])
        #expect(try await member.nextMessage()?["x"] == 1)
        #expect(try await spy.nextMessage(timeout: .seconds(1)) == nil)
        #expect(await cluster.states(seenBy: 1)["intruder"] == nil)
        #expect(await cluster.states(seenBy: 2)["intruder"] == nil)
    }
}
