import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// `GET /metrics` of running node processes shows every metric README documents, with the counts a user
/// would check: a peer refused for a wrong cluster secret, a frame dropped at a full peer queue, forwards.
@Suite(.serialized) struct MetricsTests {
    /// The names in README's "Metrics" table (labels stripped).
    static func documentedNames() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "### Metrics\n") else { return [] }
        let section = readme[start.upperBound...]
        let end = section.range(of: "\n## ")?.lowerBound ?? section.endIndex
        return section[..<end].split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `rocketws_") else { return nil }
            return String(line.dropFirst(3).prefix { $0 != "`" && $0 != "{" })
        }
    }

    static func missing(_ names: [String], in scrape: MetricsScrape) -> [String] {
        names.filter { !scrape.declares($0) }
    }

    @Test func everyDocumentedMetricIsScrapedFromARunningCluster() async throws {
        let names = try Self.documentedNames()
        #expect(names.count >= 25, "README's metrics table not found: \(names)")
        #expect(names.contains("rocketws_mesh_refused_total") && names.contains("rocketws_mesh_dropped_frames_total"))
        let cluster = try await TestCluster.start(count: 2, arguments: ["--cluster-secret", "right", "--peer-queue-bytes", "65536"])
        defer { cluster.killAll() }
        let subscriber = try await cluster.client(2)
        try await subscriber.subscribe("chat")
        let backend = cluster.backend(1)
        #expect(try await backend.call(method: "emit", params: ["channel": "chat", "data": ["small": true]]) == ["emitted": 1, "nodes": 1])
        #expect(try await subscriber.nextMessage()?["small"] == true)

        // A message larger than the peer queue cannot be queued for n2: dropped at n1 and counted there.
        let big = String(repeating: "x", count: 100_000)
        _ = try await backend.call(method: "emit", params: ["channel": "chat", "data": ["big": .string(big)]])

        // A node with the wrong secret dials n1 (and n1's peers): refused and counted.
        let intruder = try await NodeProcess.start(
            name: "intruder", arguments: ["--cluster-secret", "wrong", "--join", "127.0.0.1:\(cluster.node(1).peerPort)"])
        defer { intruder.kill9() }
        var n1 = MetricsScrape(text: "")
        let complete = await eventually(timeout: .seconds(20)) {
            n1 = (try? await MetricsScrape.scrape(backend)) ?? MetricsScrape(text: "")
            return (n1.value("rocketws_mesh_refused_total") ?? 0) >= 1 && Self.missing(names, in: n1).isEmpty
        }
        #expect(complete, "missing on n1: \(Self.missing(names, in: n1))\n\(intruder.log)\n\(cluster.node(1).log)")
        #expect((n1.value("rocketws_mesh_refused_total") ?? 0) >= 1)
        #expect(n1.value("rocketws_mesh_dropped_frames_total", #"peer="n2""#) == 1)
        #expect(n1.value("rocketws_forwards_sent_total") == 1)
        #expect(n1.value("rocketws_peers", #"state="alive""#) == 1)
        #expect((n1.value("rocketws_peer_sent_frames", #"peer="n2""#) ?? 0) >= 1)
        #expect(n1.value("rocketws_cluster_malformed_frames_total") == 0)
        #expect(n1.value("rocketws_messages_in_total") == 2)

        let n2 = try await cluster.node(2).metrics()
        #expect(Self.missing(names, in: n2).isEmpty, "missing on n2: \(Self.missing(names, in: n2))")
        #expect(n2.value("rocketws_forwards_received_total") == 1)
        #expect((n2.value("rocketws_peer_received_frames", #"peer="n1""#) ?? 0) >= 1)
        #expect(n2.value("rocketws_messages_out_total") == 1)
        // Nothing else of the big message reached n2's client.
        #expect(try await subscriber.nextMessage(timeout: .milliseconds(300)) == nil)
        try await subscriber.close()
    }
}
