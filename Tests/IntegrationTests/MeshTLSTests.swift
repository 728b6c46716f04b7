import Foundation
import RocketWSClient
import RocketWSTestKit
import Synchronization
import Testing

/// The encrypted mesh with real node processes: `--peer-tls-cert/-key/-ca`, SIGHUP rotation with emits
/// flowing, refused peers counted in /metrics, all-or-none flags.
@Suite(.serialized) struct MeshTLSTests {
    let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("rocketws-mesh-tls-\(UUID().uuidString.prefix(8))")

    /// Paths node `i` reads its TLS files from (rewritten by the test, as an operator would).
    func paths(_ i: Int) -> (cert: String, key: String, ca: String) {
        (folder.appendingPathComponent("n\(i).pem").path, folder.appendingPathComponent("n\(i).key").path,
         folder.appendingPathComponent("n\(i)-ca.pem").path)
    }

    func install(_ leaf: TestCertificateAuthority.Leaf, trusting authorities: [TestCertificateAuthority], forNode i: Int) throws {
        let p = paths(i)
        try TestCertificateAuthority.replaceFile(p.cert, withContentsOf: leaf.certificatePath)
        try TestCertificateAuthority.replaceFile(p.key, withContentsOf: leaf.keyPath)
        try TestCertificateAuthority.writeBundle(authorities, to: p.ca)
    }

    func tlsArguments(_ i: Int) -> [String] {
        let p = paths(i)
        return ["--peer-tls-cert", p.cert, "--peer-tls-key", p.key, "--peer-tls-ca", p.ca]
    }

    func refused(_ cluster: TestCluster, node i: Int) async throws -> Double {
        try await MetricsScrape.scrape(cluster.backend(i)).value("rocketws_mesh_refused_total") ?? 0
    }

    /// A 3-node TLS cluster forms and forwards; its CA is rotated on every node by SIGHUP (old and new CA in the
    /// bundle, then certificates of the new CA, then the new CA only) while emits flow, and nothing is lost. A
    /// node restarted afterwards rejoins with the new material; a node of the old CA is then refused.
    @Test func clusterFormsForwardsAndRotatesItsCAWithEmitsFlowing() async throws {
        let old = try TestCertificateAuthority.make(name: "old", in: folder)
        let new = try TestCertificateAuthority.make(name: "new", in: folder)
        for i in 1...3 { try install(try old.issue("n\(i)-old"), trusting: [old], forNode: i) }
        let cluster = try await TestCluster.start(arguments: ["--cluster-secret", "tls-s3"], perNode: { [self] i in tlsArguments(i) })
        defer { cluster.killAll() }
        for i in 1...3 { #expect(cluster.node(i).log.contains("cluster/tls=true")) }

        let subscriber = try await cluster.client(2)
        try await subscriber.subscribe("rotation")
        let backend = cluster.backend(1)
        #expect(try await backend.call(method: "emit", params: ["channel": "rotation", "data": ["n": -1]]) == ["emitted": 1, "nodes": 1])
        #expect(try await subscriber.nextMessage()?["n"] == -1)

        let acknowledged = Mutex<[Int]>([])
        let stop = Atomic<Bool>(false)
        let emitter = Task {
            var n = 0
            while !stop.load(ordering: .relaxed) {
                if let result = try? await backend.call(method: "emit", params: ["channel": "rotation", "data": ["n": .int(n)]]),
                    result["emitted"] == 1
                {
                    acknowledged.withLock { $0.append(n) }
                }
                n += 1
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        var reloads = 1  // one more than the reloads so far: the log splits into that many parts
        func hangUpAll() async throws {
            for i in 1...3 { cluster.node(i).signal(SIGHUP) }
            let reloaded = await eventually(timeout: .seconds(10)) {
                (1...3).allSatisfy { cluster.node($0).log.components(separatedBy: "peer TLS files reloaded").count > reloads }
            }
            #expect(reloaded, "every node logs the reload")
            reloads += 1
            try await Task.sleep(for: .milliseconds(300))
        }
        for i in 1...3 { try TestCertificateAuthority.writeBundle([old, new], to: paths(i).ca) }
        try await hangUpAll()
        for i in 1...3 { try install(try new.issue("n\(i)-new"), trusting: [old, new], forNode: i) }
        try await hangUpAll()
        for i in 1...3 { try TestCertificateAuthority.writeBundle([new], to: paths(i).ca) }
        try await hangUpAll()

        // New links use the new material: n3 restarts and rejoins the two others.
        cluster.node(3).signal(SIGTERM)
        #expect(await cluster.node(3).waitForExit() == 0)
        try await cluster.startNode(3)
        #expect(await cluster.waitForAlive(3), "n3 rejoins with certificates of the new CA")

        // A node holding a certificate of the old CA is refused and counted.
        let refusedBefore = try await refused(cluster, node: 1)
        try install(try old.issue("n4"), trusting: [old, new], forNode: 4)
        let outsider = try await NodeProcess.start(
            name: "n4", arguments: ["--cluster-secret", "tls-s3", "--join", "127.0.0.1:\(cluster.peerPorts[0])"] + tlsArguments(4))
        defer { outsider.kill9() }
        #expect(await eventually(timeout: .seconds(10)) { (try? await refused(cluster, node: 1)) ?? 0 > refusedBefore })
        #expect(await cluster.states(seenBy: 1)["n4"] == nil)

        stop.store(true, ordering: .relaxed)
        await emitter.value
        let sent = acknowledged.withLock { $0 }
        #expect(sent.count > 100, "emits kept flowing during the rotation (\(sent.count) acknowledged)")
        var received: [Int] = []
        while received.count < sent.count, let message = try await subscriber.nextMessage(timeout: .seconds(5)) {
            if let n = message["n"]?.intValue { received.append(n) }
        }
        #expect(received == sent, "every acknowledged emit once, in order (\(received.count) of \(sent.count))")
        if received != sent { cluster.dumpLogs() }
    }

    /// All nodes use TLS or none: a plaintext node and a node whose certificate another CA signed are refused
    /// by the TLS cluster, counted in its /metrics, and never become members.
    @Test func plaintextAndForeignNodesAreRefusedAndCounted() async throws {
        let ours = try TestCertificateAuthority.make(name: "ours", in: folder)
        let theirs = try TestCertificateAuthority.make(name: "theirs", in: folder)
        for i in 1...2 { try install(try ours.issue("n\(i)"), trusting: [ours], forNode: i) }
        let cluster = try await TestCluster.start(count: 2, perNode: { [self] i in tlsArguments(i) })
        defer { cluster.killAll() }
        let seed = "127.0.0.1:\(cluster.peerPorts[0])"

        let plain = try await NodeProcess.start(name: "plain", arguments: ["--join", seed])
        defer { plain.kill9() }
        #expect(await eventually(timeout: .seconds(10)) { (try? await refused(cluster, node: 1)) ?? 0 >= 1 })
        #expect(await eventually(timeout: .seconds(10)) { plain.log.contains("peer refused") }, "the plaintext node says why")
        plain.kill9()

        let afterPlain = try await refused(cluster, node: 1)
        try install(try theirs.issue("foreign"), trusting: [ours], forNode: 9)
        let foreign = try await NodeProcess.start(name: "foreign", arguments: ["--join", seed] + tlsArguments(9))
        defer { foreign.kill9() }
        #expect(await eventually(timeout: .seconds(10)) { (try? await refused(cluster, node: 1)) ?? 0 > afterPlain })
        #expect(await eventually(timeout: .seconds(10)) { cluster.node(1).log.contains("TLS handshake failed") })
        for i in 1...2 {
            let states = await cluster.states(seenBy: i)
            #expect(states["plain"] == nil && states["foreign"] == nil, "\(states)")
            #expect(states.values.filter { $0 == "alive" }.count == 2)
        }
    }

    /// The three flags go together, and a file that cannot be used stops the node at start with its name.
    @Test func flagsAreAllOrNoneAndBadFilesAreNamed() async throws {
        let ca = try TestCertificateAuthority.make(name: "one", in: folder)
        let leaf = try ca.issue("n1")
        let half = try await BinaryRunner.run(["--peer-tls-cert", leaf.certificatePath], executable: "rocketws-node", timeout: .seconds(20))
        #expect(half.status != 0)
        #expect(half.output.contains("--peer-tls-cert, --peer-tls-key and --peer-tls-ca go together"), "\(half.output)")
        let missing = folder.appendingPathComponent("nowhere.pem").path
        let bad = try await BinaryRunner.run(
            [
                "--peer-conn", "127.0.0.1:0", "--ws-conn", "127.0.0.1:0", "--ms-conn", "127.0.0.1:0",
                "--peer-tls-cert", leaf.certificatePath, "--peer-tls-key", leaf.keyPath, "--peer-tls-ca", missing,
            ], executable: "rocketws-node", timeout: .seconds(20))
        #expect(bad.status != 0)
        #expect(bad.output.contains(missing), "\(bad.output)")
    }
}
