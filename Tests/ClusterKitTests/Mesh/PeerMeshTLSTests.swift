@testable import ClusterKit
import Foundation
import NIOCore
import NIOPosix
import RocketWSTestKit
import Testing

/// The encrypted mesh on loopback: mutual TLS 1.3 with ALPN h2 under the nghttp2 session, with certificates
/// made by openssl for each test.
@Suite(.serialized) struct PeerMeshTLSTests {
    let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("rocketws-tls-\(UUID().uuidString.prefix(8))")

    private func files(_ leaf: TestCertificateAuthority.Leaf, ca: TestCertificateAuthority) -> PeerTLSFiles {
        PeerTLSFiles(certificatePath: leaf.certificatePath, keyPath: leaf.keyPath, caPath: ca.certificatePath)
    }

    private func start(_ name: String, tls: PeerTLSFiles?, secret: String? = "s3", group: any EventLoopGroup) async throws -> LoopbackMesh {
        try await LoopbackMesh.start(name: name, secret: secret, group: group) { $0.tls = tls }
    }

    @Test func twoTLSMeshesLinkAndCarryFrames() async throws {
        let ca = try TestCertificateAuthority.make(name: "one", in: folder)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await start("a", tls: files(try ca.issue("a"), ca: ca), group: group)
        let b = try await start("b", tls: files(try ca.issue("b"), ca: ca), group: group)
        a.mesh.connect(to: b.address)
        try #require(await eventually { a.mesh.connectedPeers.count == 1 && b.mesh.connectedPeers.count == 1 }, "link")
        for n in 0..<100 { a.mesh.send(kind: 20, payload: ByteBuffer(string: "m\(n)"), to: "b") }
        try #require(await eventually { b.delegate.receivedCount == 100 }, "frames")
        #expect(b.delegate.received.map { String(buffer: $0.payload) } == (0..<100).map { "m\($0)" })
        #expect(a.mesh.refusedConnections == 0 && b.mesh.refusedConnections == 0)
        await a.mesh.shutdown()
        await b.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func plaintextAndTLSPeersRefuseEachOtherAndCount() async throws {
        let ca = try TestCertificateAuthority.make(name: "one", in: folder)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let secure = try await start("secure", tls: files(try ca.issue("secure"), ca: ca), group: group)
        let plain = try await start("plain", tls: nil, group: group)
        plain.mesh.connect(to: secure.address)
        secure.mesh.connect(to: plain.address)
        try #require(await eventually { secure.mesh.refusedConnections >= 2 && plain.mesh.refusedConnections >= 1 }, "refusals on both sides")
        #expect(secure.mesh.connectedPeers.isEmpty && plain.mesh.connectedPeers.isEmpty)
        await secure.mesh.shutdown()
        await plain.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func certificateFromAnotherCAIsRefused() async throws {
        let ours = try TestCertificateAuthority.make(name: "ours", in: folder)
        let theirs = try TestCertificateAuthority.make(name: "theirs", in: folder)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await start("a", tls: files(try ours.issue("a"), ca: ours), group: group)
        // The intruder trusts our CA (it can check us) but its own certificate is signed by another CA.
        let intruderLeaf = try theirs.issue("intruder")
        let intruder = try await start(
            "intruder", tls: PeerTLSFiles(certificatePath: intruderLeaf.certificatePath, keyPath: intruderLeaf.keyPath, caPath: ours.certificatePath),
            group: group)
        intruder.mesh.connect(to: a.address)
        try #require(await eventually { a.mesh.refusedConnections >= 1 }, "refused by a")
        try await Task.sleep(for: .milliseconds(300))
        #expect(a.mesh.connectedPeers.isEmpty && intruder.mesh.connectedPeers.isEmpty)
        await a.mesh.shutdown()
        await intruder.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func listenerWithTheWrongNameIsRefusedByTheDialer() async throws {
        let ca = try TestCertificateAuthority.make(name: "one", in: folder)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let dialer = try await start("dialer", tls: files(try ca.issue("dialer"), ca: ca), group: group)
        // Signed by the right CA, but for another host: dialled at 127.0.0.1 it must not pass.
        let misnamed = try await start("misnamed", tls: files(try ca.issue("misnamed", subjectAltNames: ["DNS:elsewhere.invalid"]), ca: ca), group: group)
        dialer.mesh.connect(to: misnamed.address)
        try #require(await eventually { dialer.mesh.refusedConnections >= 1 }, "refused by the dialer")
        #expect(dialer.mesh.connectedPeers.isEmpty)
        await dialer.mesh.shutdown()
        await misnamed.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func wrongClusterSecretIsStillRefusedInsideTLS() async throws {
        let ca = try TestCertificateAuthority.make(name: "one", in: folder)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await start("a", tls: files(try ca.issue("a"), ca: ca), secret: "right", group: group)
        let b = try await start("b", tls: files(try ca.issue("b"), ca: ca), secret: "wrong", group: group)
        b.mesh.connect(to: a.address)
        // The side that first sees the other's proof fail refuses (and counts); neither side links.
        try #require(await eventually { a.mesh.refusedConnections + b.mesh.refusedConnections >= 2 }, "refused")
        #expect(a.mesh.connectedPeers.isEmpty && b.mesh.connectedPeers.isEmpty)
        #expect(a.delegate.connected.isEmpty && b.delegate.connected.isEmpty)
        await a.mesh.shutdown()
        await b.mesh.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func reloadUsesNewFilesForNewLinksAndKeepsOldOnesOnABrokenFile() async throws {
        let old = try TestCertificateAuthority.make(name: "old", in: folder)
        let new = try TestCertificateAuthority.make(name: "new", in: folder)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        // `a` reads its files from paths that the test rewrites, as an operator would before SIGHUP.
        let cert = folder.appendingPathComponent("a.pem").path, key = folder.appendingPathComponent("a.key").path
        let bundle = folder.appendingPathComponent("a-ca.pem").path
        let oldLeaf = try old.issue("a-old")
        try TestCertificateAuthority.replaceFile(cert, withContentsOf: oldLeaf.certificatePath)
        try TestCertificateAuthority.replaceFile(key, withContentsOf: oldLeaf.keyPath)
        try TestCertificateAuthority.writeBundle([old], to: bundle)
        let a = try await start("a", tls: PeerTLSFiles(certificatePath: cert, keyPath: key, caPath: bundle), group: group)

        // A broken file: reload refuses it, and new connections still get the old material.
        try TestCertificateAuthority.replaceFile(bundle, with: "not a certificate\n")
        #expect(a.mesh.reloadTLS() == false)
        let b = try await start("b", tls: files(try old.issue("b"), ca: old), group: group)
        b.mesh.connect(to: a.address)
        try #require(await eventually { a.mesh.connectedPeers.map(\.name) == ["b"] }, "link with the old material")

        // Rotation: trust both CAs, then switch to a certificate of the new CA, then trust the new CA only.
        try TestCertificateAuthority.writeBundle([old, new], to: bundle)
        #expect(a.mesh.reloadTLS())
        let newLeaf = try new.issue("a-new")
        try TestCertificateAuthority.replaceFile(cert, withContentsOf: newLeaf.certificatePath)
        try TestCertificateAuthority.replaceFile(key, withContentsOf: newLeaf.keyPath)
        #expect(a.mesh.reloadTLS())
        let c = try await start("c", tls: files(try new.issue("c"), ca: new), group: group)
        c.mesh.connect(to: a.address)
        try #require(await eventually { a.mesh.connectedPeers.map(\.name) == ["b", "c"] }, "a node of the new CA links")
        try TestCertificateAuthority.writeBundle([new], to: bundle)
        #expect(a.mesh.reloadTLS())
        // The live link to b (old CA) stays up until it is replaced; a new node of the old CA is refused.
        let refusedBefore = a.mesh.refusedConnections
        let d = try await start("d", tls: files(try old.issue("d"), ca: old), group: group)
        d.mesh.connect(to: a.address)
        try #require(await eventually { a.mesh.refusedConnections > refusedBefore }, "old CA refused after the rotation")
        #expect(a.mesh.connectedPeers.map(\.name) == ["b", "c"])
        a.mesh.send(kind: 20, payload: ByteBuffer(string: "still"), to: "b")
        try #require(await eventually { b.delegate.receivedCount == 1 }, "the old link still carries frames")
        for node in [a, b, c, d] { await node.mesh.shutdown() }
        try await group.shutdownGracefully()
    }

    @Test func unusableFilesAreNamedInTheError() throws {
        let ca = try TestCertificateAuthority.make(name: "one", in: folder)
        let leaf = try ca.issue("x")
        let missing = folder.appendingPathComponent("missing.pem").path
        #expect(throws: PeerTLSError.self) {
            try PeerTLSMaterial(files: PeerTLSFiles(certificatePath: missing, keyPath: leaf.keyPath, caPath: ca.certificatePath))
        }
        do {
            _ = try PeerTLSMaterial(files: PeerTLSFiles(certificatePath: leaf.certificatePath, keyPath: missing, caPath: ca.certificatePath))
            Issue.record("a missing key was accepted")
        } catch {
            #expect(error.file == missing)
        }
        // A key that does not belong to the certificate.
        let other = try ca.issue("y")
        #expect(throws: PeerTLSError.self) {
            try PeerTLSMaterial(files: PeerTLSFiles(certificatePath: leaf.certificatePath, keyPath: other.keyPath, caPath: ca.certificatePath))
        }
    }

    /// Any HTTP/2 client reaches `/v1/health` over TLS with the CA and a certificate it signed; without a
    /// client certificate the handshake fails (mutual TLS).
    @Test func curlAndNghttpReachHealthOverTLS() async throws {
        let ca = try TestCertificateAuthority.make(name: "one", in: folder)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let node = try await start("tls-health", tls: files(try ca.issue("node"), ca: ca), group: group)
        let client = try ca.issue("operator")
        let url = "https://127.0.0.1:\(node.port)/v1/health"
        let curl = try await CommandRun.run("/usr/bin/curl", [
            "-sS", "--http2", "--cacert", ca.certificatePath, "--cert", client.certificatePath, "--key", client.keyPath,
            "-w", "\\nhttp/%{http_version}", url,
        ])
        #expect(curl.status == 0, "\(curl.output)")
        #expect(curl.output.contains(#"{"status":"ok","node":"tls-health"}"#), "\(curl.output)")
        #expect(curl.output.hasSuffix("http/2"), "\(curl.output)")
        let nghttp = try await CommandRun.run("/usr/bin/nghttp", ["--cert=\(client.certificatePath)", "--key=\(client.keyPath)", url])
        #expect(nghttp.status == 0, "\(nghttp.output)")
        #expect(nghttp.output.contains(#"{"status":"ok","node":"tls-health"}"#), "\(nghttp.output)")
        let anonymous = try await CommandRun.run("/usr/bin/curl", ["-sS", "--http2", "--cacert", ca.certificatePath, url])
        #expect(anonymous.status != 0, "\(anonymous.output)")
        let plaintext = try await CommandRun.run("/usr/bin/curl", ["-sS", "--http2-prior-knowledge", "http://127.0.0.1:\(node.port)/v1/health"])
        #expect(plaintext.status != 0, "\(plaintext.output)")
        await node.mesh.shutdown()
        try await group.shutdownGracefully()
    }
}

/// `PeerTLSPolicy`, without a channel.
@Suite struct PeerTLSPolicyTests {
    @Test func onlyH2IsAccepted() {
        #expect(PeerTLSPolicy.onHandshakeCompleted(negotiatedProtocol: "h2") == .accept)
        guard case .refuse(let reason) = PeerTLSPolicy.onHandshakeCompleted(negotiatedProtocol: nil) else {
            Issue.record("no ALPN was accepted")
            return
        }
        #expect(reason.contains("h2"))
        #expect(PeerTLSPolicy.onHandshakeCompleted(negotiatedProtocol: "http/1.1") != .accept)
    }

    @Test func aTLSRecordIsToldFromHTTP2() {
        #expect(PeerTLSPolicy.looksLikeTLSRecord([0x16, 0x03, 0x01, 0x02, 0x00]))  // ClientHello
        #expect(PeerTLSPolicy.looksLikeTLSRecord([0x15, 0x03, 0x03, 0x00, 0x02]))  // alert
        #expect(!PeerTLSPolicy.looksLikeTLSRecord(Array("PRI * HTTP/2.0".utf8)))
        #expect(!PeerTLSPolicy.looksLikeTLSRecord([0x00, 0x00, 0x12, 0x04]))  // a SETTINGS frame
        #expect(!PeerTLSPolicy.looksLikeTLSRecord([0x16, 0x03]))
    }
}
