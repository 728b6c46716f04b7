import ClusterKit
import Foundation
import NIOPosix
import RocketWSTestKit
import Testing

/// Interop with real HTTP/2 clients: `nghttp` (nghttp2-client) and `curl --http2-prior-knowledge`.
@Suite(.serialized) struct PeerMeshInteropTests {
    @Test func nghttpGetsHealth() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let node = try await LoopbackMesh.start(name: "health-node", secret: "k", group: group)
        defer { Task { try? await group.shutdownGracefully() } }
        guard CommandRun.isInstalled("/usr/bin/nghttp") else {
            withKnownIssue("nghttp is not installed; interop not checked") { Issue.record("nghttp missing") }
            await node.mesh.shutdown()
            return
        }
        let result = try await CommandRun.run("/usr/bin/nghttp", ["-s", "http://127.0.0.1:\(node.port)/v1/health"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains(#"{"status":"ok","node":"health-node"}"#), "\(result.output)")
        // With a secret, any other path needs the handshake first.
        let other = try await CommandRun.run("/usr/bin/nghttp", ["-v", "http://127.0.0.1:\(node.port)/v1/other"])
        #expect(other.output.contains(":status: 401"), "\(other.output)")
        #expect(node.mesh.refusedConnections == 1)
        await node.mesh.shutdown()
    }

    @Test func curlPriorKnowledgeGetsHealth() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let node = try await LoopbackMesh.start(name: "curl-node", group: group)
        defer { Task { try? await group.shutdownGracefully() } }
        guard CommandRun.isInstalled("/usr/bin/curl") else {
            withKnownIssue("curl is not installed; interop not checked") { Issue.record("curl missing") }
            await node.mesh.shutdown()
            return
        }
        let result = try await CommandRun.run("/usr/bin/curl", ["-sS", "-i", "--http2-prior-knowledge", "http://127.0.0.1:\(node.port)/v1/health"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasPrefix("HTTP/2 200"), "\(result.output)")
        #expect(result.output.contains(#""node":"curl-node""#))
        let notFound = try await CommandRun.run("/usr/bin/curl", ["-sS", "-i", "--http2-prior-knowledge", "http://127.0.0.1:\(node.port)/nope"])
        #expect(notFound.output.hasPrefix("HTTP/2 404"), "\(notFound.output)")
        await node.mesh.shutdown()
    }
}
