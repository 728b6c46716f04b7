@testable import ClusterKit
import NIOCore
import NIOPosix
import RocketWSTestKit
import Testing

@Suite(.serialized) struct PeerMeshBackpressureTests {
    @Test func stalledReceiverBoundsSenderMemoryAndCountsDrops() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let small: (inout PeerMeshSettings) -> Void = {
            $0.maxQueueBytes = 1 << 20
            $0.streamWindowBytes = 256 << 10
            $0.connectionWindowBytes = 256 << 10
            $0.writeBufferHighWaterMark = 256 << 10
            $0.pingTimeout = .seconds(60)
        }
        let a = try await LoopbackMesh.start(name: "a", group: group, keepPayloads: false, configure: small)
        let b = try await LoopbackMesh.start(name: "b", group: group, keepPayloads: false, configure: small)
        a.mesh.connect(to: b.address)
        try #require(await eventually { a.mesh.connectedPeers.count == 1 && b.mesh.connectedPeers.count == 1 }, "connected")
        b.mesh._setReading(false)
        var payload = ByteBuffer()
        payload.writeRepeatingByte(7, count: 1000)
        var queued = 0
        var dropped = 0
        let deadline = ContinuousClock.now + .seconds(30)
        // Push until the queue overflows; the receiver reads nothing, so memory must stay bounded.
        while dropped < 1000 && ContinuousClock.now < deadline {
            switch a.mesh.send(kind: 16, payload: payload, to: "b") {
            case .queued: queued += 1
            case .dropped: dropped += 1
            case .notConnected: Issue.record("link lost")
            }
            if queued % 1000 == 0 { await Task.yield() }
        }
        #expect(dropped >= 1000)
        let stats = try #require(a.mesh.stats().first)
        #expect(stats.queuedBytes <= 1 << 20)
        #expect(stats.droppedFrames == UInt64(dropped))
        // Far fewer frames were accepted than were offered: sockets, windows and the queue are all bounded.
        #expect(queued < 20_000)
        b.mesh._setReading(true)
        let accepted = queued
        try #require(await eventually { b.delegate.receivedCount == accepted }, "everything queued is delivered after resuming")
        #expect(a.mesh.send(kind: 16, payload: payload, to: "b") == .queued)
        await a.mesh.shutdown()
        await b.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func oversizeFrameClosesConnectionAndIsCounted() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await LoopbackMesh.start(name: "a", group: group)
        let b = try await LoopbackMesh.start(name: "b", group: group) { $0.maxFrameBytes = 1024 }
        a.mesh.connect(to: b.address)
        try #require(await eventually { a.mesh.connectedPeers.count == 1 && b.mesh.connectedPeers.count == 1 }, "connected")
        var big = ByteBuffer()
        big.writeRepeatingByte(1, count: 2048)
        #expect(a.mesh.send(kind: 16, payload: big, to: "b") == .queued)
        try #require(await eventually { b.mesh.protocolErrorCount == 1 }, "protocol error counted")
        #expect(b.delegate.receivedCount == 0)
        // The dialer reconnects; small frames flow again.
        try #require(await eventually { a.delegate.connected.count == 2 && a.mesh.connectedPeers.count == 1 }, "reconnected")
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(string: "ok"), to: "b") == .queued)
        try #require(await eventually { b.delegate.receivedCount == 1 }, "delivered")
        await a.mesh.shutdown()
        await b.mesh.shutdown()
        try await group.shutdownGracefully()
    }
}

extension PeerMeshBackpressureTests {
    @Test func frameAboveMaxFrameBytesIsDroppedLocally() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let a = try await LoopbackMesh.start(name: "a", group: group) { $0.maxFrameBytes = 1024 }
        let b = try await LoopbackMesh.start(name: "b", group: group)
        a.mesh.connect(to: b.address)
        try #require(await eventually { a.mesh.connectedPeers.count == 1 && b.mesh.connectedPeers.count == 1 }, "connected")
        var big = ByteBuffer()
        big.writeRepeatingByte(1, count: 1025)
        #expect(a.mesh.send(kind: 16, payload: big, to: "b") == .dropped)
        #expect(a.mesh.stats().first?.droppedFrames == 1)
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(string: "fits"), to: "b") == .queued)
        try #require(await eventually { b.delegate.receivedCount == 1 }, "small one delivered")
        await a.mesh.shutdown()
        await b.mesh.shutdown()
        try await group.shutdownGracefully()
    }
}
