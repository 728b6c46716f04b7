import Foundation
import RocketWSClient
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

    /// The value of the sample `name{labels}` (labels as rendered, e.g. `peer="n2"`).
    static func sample(_ name: String, _ labels: String, in text: String) -> Double? {
        let prefix = "\(name){\(labels)} "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }

    static func missing(_ names: [String], in text: String) -> [String] {
        names.filter { !text.contains("# TYPE \($0) ") }
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
            name: "intruder", arguments: ["--cluster-secret", "wrong", "--join", "127.0.0.1:\(cluster.node(1).peer)"])
        defer { intruder.kill9() }
        var n1 = ""
        let complete = await eventually(timeout: .seconds(20)) {
            n1 = (try? await backend.get(path: "/metrics").text) ?? ""
            return (metric("rocketws_mesh_refused_total", in: n1) ?? 0) >= 1 && Self.missing(names, in: n1).isEmpty
        }
        #expect(complete, "missing on n1: \(Self.missing(names, in: n1))\n\(intruder.log)\n\(cluster.node(1).log)")
        #expect((metric("rocketws_mesh_refused_total", in: n1) ?? 0) >= 1)
        #expect(Self.sample("rocketws_mesh_dropped_frames_total", #"peer="n2""#, in: n1) == 1)
        #expect(metric("rocketws_forwards_sent_total", in: n1) == 1)
        #expect(Self.sample("rocketws_peers", #"state="alive""#, in: n1) == 1)
        #expect((Self.sample("rocketws_peer_sent_frames", #"peer="n2""#, in: n1) ?? 0) >= 1)
        #expect(metric("rocketws_cluster_malformed_frames_total", in: n1) == 0)
        #expect(metric("rocketws_messages_in_total", in: n1) == 2)

        let n2 = try await cluster.backend(2).get(path: "/metrics").text
        #expect(Self.missing(names, in: n2).isEmpty, "missing on n2: \(Self.missing(names, in: n2))")
        #expect(metric("rocketws_forwards_received_total", in: n2) == 1)
        #expect((Self.sample("rocketws_peer_received_frames", #"peer="n1""#, in: n2) ?? 0) >= 1)
        #expect(metric("rocketws_messages_out_total", in: n2) == 1)
        // Nothing else of the big message reached n2's client.
        #expect(try await subscriber.nextMessage(timeout: .milliseconds(300)) == nil)
        try await subscriber.close()
    }
}
