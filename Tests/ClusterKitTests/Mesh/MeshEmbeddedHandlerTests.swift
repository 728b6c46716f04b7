@testable import ClusterKit
import Logging
import NIOCore
import NIOEmbedded
import Testing

/// Two connection handlers (dialer and listener) wired back to back in memory.
@Suite struct MeshEmbeddedHandlerTests {
    struct Pair {
        let loop = EmbeddedEventLoop()
        let dialer: EmbeddedChannel
        let listener: EmbeddedChannel
        let meshA: PeerMesh
        let meshB: PeerMesh
        let delegateA = RecordingDelegate()
        let delegateB = RecordingDelegate()

        init(secretA: String? = "k", secretB: String? = "k") throws {
            var logger = Logger(label: "embedded")
            logger.logLevel = .critical
            var settingsA = PeerMeshSettings()
            settingsA.clusterSecret = secretA
            settingsA.pingInterval = .seconds(3600)
            var settingsB = settingsA
            settingsB.clusterSecret = secretB
            meshA = PeerMesh(
                identity: PeerIdentity(name: "a", address: "a:1", incarnation: 1), settings: settingsA, group: loop,
                logger: logger, delegate: delegateA)
            meshB = PeerMesh(
                identity: PeerIdentity(name: "b", address: "b:1", incarnation: 7), settings: settingsB, group: loop,
                logger: logger, delegate: delegateB)
            dialer = EmbeddedChannel(
                handler: PeerConnectionHandler(role: .dialer(target: "b:1"), mesh: meshA, settings: settingsA, logger: logger),
                loop: loop)
            listener = EmbeddedChannel(
                handler: PeerConnectionHandler(role: .listener, mesh: meshB, settings: settingsB, logger: logger), loop: loop)
            try listener.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
            try dialer.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        /// Moves bytes both ways until neither side has anything left to say.
        func interactInMemory() throws {
            var quiet = false
            while !quiet {
                quiet = true
                loop.run()
                while let bytes = try dialer.readOutbound(as: ByteBuffer.self) {
                    quiet = false
                    try listener.writeInbound(bytes)
                }
                while let bytes = try listener.readOutbound(as: ByteBuffer.self) {
                    quiet = false
                    try dialer.writeInbound(bytes)
                }
            }
        }
    }

    @Test func handshakeThenFramesBothWays() throws {
        let pair = try Pair()
        try pair.interactInMemory()
        #expect(pair.meshA.connectedPeers == [PeerIdentity(name: "b", address: "b:1", incarnation: 7)])
        #expect(pair.meshB.connectedPeers == [PeerIdentity(name: "a", address: "a:1", incarnation: 1)])
        #expect(pair.delegateA.connected.map(\.name) == ["b"])
        for i in 0..<1000 {
            #expect(pair.meshA.send(kind: 16, payload: ByteBuffer(string: "a\(i)"), to: "b") == .queued)
            #expect(pair.meshB.send(kind: 99, payload: ByteBuffer(string: "b\(i)"), to: "a") == .queued)
        }
        try pair.interactInMemory()
        #expect(pair.delegateB.received.map { String(buffer: $0.payload) } == (0..<1000).map { "a\($0)" })
        #expect(pair.delegateA.received.map { String(buffer: $0.payload) } == (0..<1000).map { "b\($0)" })
        #expect(pair.delegateA.received.allSatisfy { $0.kind == 99 })
        // A frame larger than one DATA frame (16 KiB) is split and reassembled.
        var big = ByteBuffer()
        big.writeRepeatingByte(9, count: 100_000)
        #expect(pair.meshA.send(kind: 17, payload: big, to: "b") == .queued)
        try pair.interactInMemory()
        #expect(pair.delegateB.received.last?.payload == big)
        _ = try pair.dialer.close().wait()
        try pair.interactInMemory()
        #expect(pair.meshA.connectedPeers.isEmpty)
        #expect(pair.delegateA.disconnected.map(\.name) == ["b"])
        _ = try? pair.dialer.finish()
        _ = try? pair.listener.finish()
    }

    @Test func mismatchedSecretNeverEstablishes() throws {
        let pair = try Pair(secretA: "one", secretB: "two")
        try pair.interactInMemory()
        #expect(pair.meshA.connectedPeers.isEmpty)
        #expect(pair.meshB.connectedPeers.isEmpty)
        #expect(pair.meshA.refusedConnections == 1)
        #expect(!pair.dialer.isActive)
        _ = try? pair.dialer.finish()
        _ = try? pair.listener.finish()
    }

    @Test func dialerWithoutSecretIsRefusedByListener() throws {
        let pair = try Pair(secretA: nil, secretB: "two")
        try pair.interactInMemory()
        #expect(pair.meshB.connectedPeers.isEmpty)
        #expect(pair.meshB.refusedConnections == 1)
        #expect(pair.meshA.connectedPeers.isEmpty)
        _ = try? pair.dialer.finish()
        _ = try? pair.listener.finish()
    }

    @Test func garbageBeforeHandshakeClosesTheConnection() throws {
        let pair = try Pair()
        // Not an HTTP/2 preface.
        _ = try? pair.listener.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        pair.loop.run()
        #expect(!pair.listener.isActive)
        #expect(pair.meshB.connectedPeers.isEmpty)
        _ = try? pair.dialer.finish()
        _ = try? pair.listener.finish()
    }
}
