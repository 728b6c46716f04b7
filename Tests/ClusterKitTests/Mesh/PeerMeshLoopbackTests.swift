import ClusterKit
import NIOCore
import NIOPosix
import Testing

@Suite(.serialized) struct PeerMeshLoopbackTests {
    @Test func twoMeshesConnectAndExchange() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await TestNode.start(name: "a", secret: "s3cret", group: group)
        let b = try await TestNode.start(name: "b", secret: "s3cret", group: group)
        a.mesh.connect(to: b.address)
        try await eventually("connected") { a.mesh.connectedPeers.count == 1 && b.mesh.connectedPeers.count == 1 }
        #expect(a.mesh.connectedPeers.map(\.name) == ["b"])
        #expect(b.mesh.connectedPeers.map(\.name) == ["a"])
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(string: "hello"), to: "b") == .queued)
        #expect(b.mesh.send(kind: 17, payload: ByteBuffer(string: "back"), to: "a") == .queued)
        try await eventually("frames") { b.delegate.receivedCount == 1 && a.delegate.receivedCount == 1 }
        #expect(b.delegate.received.first.map { String(buffer: $0.payload) } == "hello")
        #expect(b.delegate.received.first?.kind == 16)
        #expect(a.delegate.received.first.map { String(buffer: $0.payload) } == "back")
        #expect(a.mesh.send(kind: 16, payload: ByteBuffer(), to: "nobody") == .notConnected)
        await a.mesh.shutdown()
        await b.mesh.shutdown()
        try await group.shutdownGracefully()
    }
}
