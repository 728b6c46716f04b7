import ClusterKit
import NIOCore
import NIOPosix
import RocketWSTestKit
import Testing

@Suite(.serialized) struct PeerMeshLoopbackTests {
    @Test func twoMeshesConnectAndExchange() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await LoopbackMesh.start(name: "a", secret: "s3cret", group: group)
        let b = try await LoopbackMesh.start(name: "b", secret: "s3cret", group: group)
        a.mesh.connect(to: b.address)
        try #require(await eventually { a.mesh.connectedPeers.count == 1 && b.mesh.connectedPeers.count == 1 }, "connected")
        #expect(a.mesh.connectedPeers.map(\.name) == ["b"])
        #expect(b.mesh.connectedPeers.map(\.name) == ["a"])
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(string: "hello"), to: "b") == .queued)
        #expect(b.mesh.send(kind: 17, payload: ByteBuffer(string: "back"), to: "a") == .queued)
        try #require(await eventually { b.delegate.receivedCount == 1 && a.delegate.receivedCount == 1 }, "frames")
        #expect(b.delegate.received.first.map { String(buffer: $0.payload) } == "hello")
        #expect(b.delegate.received.first?.kind == 16)
        #expect(a.delegate.received.first.map { String(buffer: $0.payload) } == "back")
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(), to: "nobody") == .notConnected)
        await a.mesh.shutdown()
        await b.mesh.shutdown()
        try await group.shutdownGracefully()
    }
}

extension PeerMeshLoopbackTests {
    private static func sequence(_ i: Int) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(UInt32(i))
        return b
    }

    private static func sequenceNumbers(_ received: [RecordingDelegate.Received], from: String) -> [Int] {
        received.filter { $0.from == from }.map { Int($0.payload.getInteger(at: $0.payload.readerIndex, as: UInt32.self)!) }
    }

    @Test func hundredThousandFramesArriveInOrderBothWays() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await LoopbackMesh.start(name: "a", group: group)
        let b = try await LoopbackMesh.start(name: "b", group: group)
        a.mesh.connect(to: b.address)
        try #require(await eventually { a.mesh.connectedPeers.count == 1 && b.mesh.connectedPeers.count == 1 }, "connected")
        let n = 100_000
        async let ab: Void = Task.detached { for i in 0..<n { #expect(a.mesh.send(kind: 16, payload: Self.sequence(i), to: "b") == .queued) } }.value
        async let ba: Void = Task.detached { for i in 0..<n { #expect(b.mesh.send(kind: 20, payload: Self.sequence(i), to: "a") == .queued) } }.value
        _ = await (ab, ba)
        try #require(await eventually { b.delegate.receivedCount == n && a.delegate.receivedCount == n }, "all frames")
        #expect(Self.sequenceNumbers(b.delegate.received, from: "a") == Array(0..<n))
        #expect(Self.sequenceNumbers(a.delegate.received, from: "b") == Array(0..<n))
        let stats = a.mesh.stats()
        #expect(stats.first?.sentFrames == UInt64(n))
        #expect(stats.first?.receivedFrames == UInt64(n))
        try #require(await eventually { a.mesh.stats().first?.rtt != nil }, "rtt measured")
        await a.mesh.shutdown()
        await b.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func threeMeshesDialingEachOtherKeepOneLinkPerPair() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let nodes = [
            try await LoopbackMesh.start(name: "a", secret: "k", group: group),
            try await LoopbackMesh.start(name: "b", secret: "k", group: group),
            try await LoopbackMesh.start(name: "c", secret: "k", group: group),
        ]
        for x in nodes { for y in nodes where x.port != y.port { x.mesh.connect(to: y.address) } }
        try #require(await eventually { nodes.allSatisfy { $0.mesh.connectedPeers.count == 2 } }, "full mesh")
        // Each pair keeps the connection dialed by the smaller name, on both sides.
        let settled = await eventually {
            nodes.allSatisfy { node in
                node.mesh.stats().allSatisfy { $0.dialedByUs == (node.mesh.identity.name < $0.peer.name) }
            }
        }
        try #require(settled, "tie break settled")
        for x in nodes { for y in nodes where x.port != y.port {
            #expect(x.mesh.send(kind: 16, payload: ByteBuffer(string: x.mesh.identity.name), to: y.mesh.identity.name) == .queued)
        } }
        try #require(await eventually { nodes.allSatisfy { $0.delegate.receivedCount == 2 } }, "each got two")
        let results = nodes[0].mesh.broadcast(kind: 30, payload: ByteBuffer(string: "all"))
        #expect(results == ["b": .queued, "c": .queued])
        #expect(nodes[1].mesh.send(kind: 31, payload: ByteBuffer(string: "x"), toAll: ["a", "c", "zz"]) == ["a": .queued, "c": .queued, "zz": .notConnected])
        let arrived = await eventually {
            nodes[1].delegate.receivedCount == 3 && nodes[2].delegate.receivedCount == 4 && nodes[0].delegate.receivedCount == 3
        }
        try #require(arrived, "broadcast and multi-send arrive")
        for node in nodes {
            #expect(Set(node.delegate.received.map(\.from)) == Set(nodes.map(\.mesh.identity.name)).subtracting([node.mesh.identity.name]))
        }
        for node in nodes { await node.mesh.shutdown() }
        try await group.shutdownGracefully()
    }

    @Test func reconnectsAndResumesAfterPeerRestart() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await LoopbackMesh.start(name: "a", secret: "k", group: group)
        let b1 = try await LoopbackMesh.start(name: "b", incarnation: 1, secret: "k", group: group)
        a.mesh.connect(to: b1.address)
        try #require(await eventually { a.mesh.connectedPeers.map(\.incarnation) == [1] }, "connected")
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(string: "before"), to: "b") == .queued)
        try #require(await eventually { b1.delegate.receivedCount == 1 }, "first frame")
        await b1.mesh.shutdown()
        try #require(await eventually { a.delegate.disconnected.count == 1 && a.mesh.connectedPeers.isEmpty }, "disconnect seen")
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(string: "lost"), to: "b") == .notConnected)
        let b2 = try await LoopbackMesh.start(name: "b", incarnation: 2, secret: "k", group: group) { $0.listenPort = b1.port }
        try #require(await eventually { a.mesh.connectedPeers.map(\.incarnation) == [2] }, "reconnected")
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(string: "after"), to: "b") == .queued)
        try #require(await eventually { b2.delegate.receivedCount == 1 }, "resumed")
        #expect(b2.delegate.received.map { String(buffer: $0.payload) } == ["after"])
        await a.mesh.shutdown()
        await b2.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func higherIncarnationReplacesTheLinkImmediately() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await LoopbackMesh.start(name: "a", group: group)
        let b1 = try await LoopbackMesh.start(name: "b", incarnation: 1, group: group)
        b1.mesh.connect(to: a.address)
        try #require(await eventually { a.mesh.connectedPeers.map(\.incarnation) == [1] }, "connected")
        let b2 = try await LoopbackMesh.start(name: "b", incarnation: 2, group: group)
        b2.mesh.connect(to: a.address)
        try #require(await eventually { a.mesh.connectedPeers.map(\.incarnation) == [2] }, "replaced")
        #expect(a.delegate.disconnected.map(\.incarnation) == [1])
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(string: "new"), to: "b") == .queued)
        try #require(await eventually { b2.delegate.receivedCount == 1 }, "delivered to new")
        #expect(b1.delegate.receivedCount == 0)
        b1.mesh.forget(address: a.address)
        await b1.mesh.shutdown()
        await b2.mesh.shutdown()
        await a.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func wrongSecretIsRefusedAndNeverDelivers() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await LoopbackMesh.start(name: "a", secret: "right", group: group)
        let b = try await LoopbackMesh.start(name: "b", secret: "wrong", group: group)
        let c = try await LoopbackMesh.start(name: "c", secret: nil, group: group)
        b.mesh.connect(to: a.address)
        c.mesh.connect(to: a.address)
        try #require(await eventually { a.mesh.refusedConnections >= 1 && b.mesh.refusedConnections >= 1 }, "refusals counted")
        try #require(await eventually { a.mesh.refusedConnections >= 3 }, "secretless dialer refused")
        #expect(a.mesh.connectedPeers.isEmpty)
        #expect(b.mesh.connectedPeers.isEmpty)
        #expect(c.mesh.connectedPeers.isEmpty)
        #expect(b.mesh.send(kind: 16, payload: ByteBuffer(string: "x"), to: "a") == .notConnected)
        #expect(c.mesh.send(kind: 16, payload: ByteBuffer(string: "x"), to: "a") == .notConnected)
        #expect(a.delegate.receivedCount == 0 && a.delegate.connected.isEmpty)
        await b.mesh.shutdown()
        await c.mesh.shutdown()
        await a.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func shutdownDrainsQueuedFrames() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        // A generous drain bound: the box may be loaded; the drain itself ends as soon as the queue is empty.
        let a = try await LoopbackMesh.start(name: "a", group: group, keepPayloads: false) { $0.drainTimeout = .seconds(30) }
        let b = try await LoopbackMesh.start(name: "b", group: group, keepPayloads: false)
        a.mesh.connect(to: b.address)
        try #require(await eventually { a.mesh.connectedPeers.count == 1 && b.mesh.connectedPeers.count == 1 }, "connected")
        var payload = ByteBuffer()
        payload.writeRepeatingByte(1, count: 1000)
        for _ in 0..<10_000 { #expect(a.mesh.send(kind: 16, payload: payload, to: "b") == .queued) }
        await a.mesh.shutdown()
        try #require(await eventually { b.delegate.receivedCount == 10_000 }, "all delivered")
        try #require(await eventually { b.mesh.connectedPeers.isEmpty }, "link closed by GOAWAY")
        await b.mesh.shutdown()
        try await group.shutdownGracefully()
    }
}
