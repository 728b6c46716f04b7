import ClusterKit
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Records every delegate event; thread-safe.
final class RecordingDelegate: PeerMeshDelegate {
    struct Received: Sendable {
        var kind: UInt8
        var payload: ByteBuffer
        var from: String
    }

    private struct State {
        var connected: [PeerIdentity] = []
        var disconnected: [PeerIdentity] = []
        var received: [Received] = []
        var count = 0
    }

    private let state = Mutex(State())
    let keepPayloads: Bool

    init(keepPayloads: Bool = true) { self.keepPayloads = keepPayloads }

    func peerMesh(_ mesh: PeerMesh, didConnect peer: PeerIdentity) { state.withLock { $0.connected.append(peer) } }
    func peerMesh(_ mesh: PeerMesh, didDisconnect peer: PeerIdentity) { state.withLock { $0.disconnected.append(peer) } }
    func peerMesh(_ mesh: PeerMesh, didReceive kind: UInt8, payload: ByteBuffer, from peer: PeerIdentity) {
        state.withLock {
            $0.count += 1
            if keepPayloads { $0.received.append(Received(kind: kind, payload: payload, from: peer.name)) }
        }
    }

    var connected: [PeerIdentity] { state.withLock { $0.connected } }
    var disconnected: [PeerIdentity] { state.withLock { $0.disconnected } }
    var received: [Received] { state.withLock { $0.received } }
    var receivedCount: Int { state.withLock { $0.count } }
}

/// A real `PeerMesh` listening on 127.0.0.1 (ephemeral port) with a recording delegate: one node of the mesh
/// tests, in this process.
struct LoopbackMesh {
    let mesh: PeerMesh
    let delegate: RecordingDelegate
    let port: Int
    var address: String { "127.0.0.1:\(port)" }

    static func start(
        name: String, incarnation: UInt64 = 1, secret: String? = nil, group: any EventLoopGroup,
        keepPayloads: Bool = true, configure: (inout PeerMeshSettings) -> Void = { _ in }
    ) async throws -> LoopbackMesh {
        var settings = PeerMeshSettings()
        settings.listenHost = "127.0.0.1"
        settings.listenPort = 0
        settings.clusterSecret = secret
        settings.reconnectBackoffMin = .milliseconds(20)
        settings.reconnectBackoffMax = .milliseconds(300)
        settings.pingInterval = .milliseconds(200)
        configure(&settings)
        let delegate = RecordingDelegate(keepPayloads: keepPayloads)
        var logger = Logger(label: "mesh-test.\(name)")
        logger.logLevel = .critical
        // The advertised address is only known after binding; tests use the name to route.
        let mesh = PeerMesh(
            identity: PeerIdentity(name: name, address: "127.0.0.1:0", incarnation: incarnation),
            settings: settings, group: group, logger: logger, delegate: delegate)
        let port = try await mesh.start()
        return LoopbackMesh(mesh: mesh, delegate: delegate, port: port)
    }
}
