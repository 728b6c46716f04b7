import ClusterKit
import Foundation
import NIOPosix
import Testing

/// Interop with real HTTP/2 clients: `nghttp` (nghttp2-client) and `curl --http2-prior-knowledge`.
@Suite(.serialized) struct PeerMeshInteropTests {
    private static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String)? {
        guard FileManager.default.isExecutableFile(atPath: executable) else { return nil }
        return try await Task.detached {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }.value
    }

    @Test func nghttpGetsHealth() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let node = try await TestNode.start(name: "health-node", secret: "k", group: group)
        defer { Task { try? await group.shutdownGracefully() } }
        guard let result = try await Self.run("/usr/bin/nghttp", ["-s", "http://127.0.0.1:\(node.port)/v1/health"]) else {
            withKnownIssue("nghttp is not installed; interop not checked") { Issue.record("nghttp missing") }
            await node.mesh.shutdown()
            return
        }
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains(#"{"status":"ok","node":"health-node"}"#), "\(result.output)")
        // With a secret, any other path needs the handshake first.
        let other = try #require(try await Self.run("/usr/bin/nghttp", ["-v", "http://127.0.0.1:\(node.port)/v1/other"]))
        #expect(other.output.contains(":status: 401"), "\(other.output)")
        #expect(node.mesh.refusedConnections == 1)
        await node.mesh.shutdown()
    }

    @Test func curlPriorKnowledgeGetsHealth() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let node = try await TestNode.start(name: "curl-node", group: group)
        defer { Task { try? await group.shutdownGracefully() } }
        guard let result = try await Self.run("/usr/bin/curl", ["-sS", "-i", "--http2-prior-knowledge", "http://127.0.0.1:\(node.port)/v1/health"]) else {
            withKnownIssue("curl is not installed; interop not checked") { Issue.record("curl missing") }
            await node.mesh.shutdown()
            return
        }
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasPrefix("HTTP/2 200"), "\(result.output)")
        #expect(result.output.contains(#""node":"curl-node""#))
        let notFound = try #require(try await Self.run("/usr/bin/curl", ["-sS", "-i", "--http2-prior-knowledge", "http://127.0.0.1:\(node.port)/nope"]))
        #expect(notFound.output.hasPrefix("HTTP/2 404"), "\(notFound.output)")
        await node.mesh.shutdown()
    }
}
